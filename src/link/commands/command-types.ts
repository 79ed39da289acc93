/** What CommandClient's callers see: its errors (with their public codes), counters and events. */

export type CommandErrorCode =
  /** Bad input (unknown command, missing or malformed argument, no line): nothing was sent. */
  | 'input'
  /** The line is not configured. */
  | 'unknownLine'
  /** The line is configured but not online (or never registered). */
  | 'offline'
  /** No answer after every try. */
  | 'timeout'
  /** The device answered with an error (ERROR, GSMERROR, CFERROR, USSDERROR, `USSD send failed!`). */
  | 'device'
  /** The client stopped (redeploy) before an answer came. */
  | 'stopped';

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly code: CommandErrorCode,
    readonly line: string | null,
    readonly command: string | null,
    /** The device's own error text, for code 'device'. */
    readonly deviceText?: string,
  ) {
    super(message);
  }
}

export interface CommandCounters {
  requests: number;
  /** Datagrams sent again after silence. */
  resends: number;
  succeeded: number;
  failed: number;
  timeouts: number;
  /** Replies to a command sendid nothing waits for any more (late or duplicated). */
  lateReplies: number;
  /** Replies with a waiting sendid but a verb that does not answer that command. */
  foreignReplies: number;
}

export interface CommandClientEvents {
  /** An AT session opened (ATSTART answered OK) or closed (ATSTOP asked, replaced, or the client stopped). */
  atSession: [line: string, open: boolean, sendId: number];
  /** Something went wrong outside any caller's request (an ATALIVE failed). */
  warning: [Error];
}
