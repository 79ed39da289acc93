/**
 * Device replies of a bulk send session (docs/protocol.md#bulk-sms-session), typed. Pure: a parsed `Reply` in, a
 * `BulkReply` (or null for replies that are not part of a bulk session) out. The simulator formats
 * them with the same verbs and texts (bulk-format.ts).
 *
 *   PASSWORD $sendid                       the session opened, the device wants the password
 *   SEND $sendid                           the password was right, numbers may follow
 *   WAIT $sendid $telid                    the number is queued or on the radio
 *   OK $sendid $telid [$sms_no]            sent (newer firmware adds the sms_no of DELIVER reports)
 *   ERROR $sendid $telid errorstatus:$n    the radio failed to send it
 *   ERROR $sendid $errmsg                  the session failed (too_many_sends_in_server, PASSWORD, ...)
 *   DONE $sendid                           the session is released
 */
import type { Reply } from './device';

/** `$errmsg` texts of `ERROR $sendid $errmsg` that concern the whole session. */
export const BULK_SESSION_ERRORS = {
  /** The line runs its maximum of sessions (5): try again later. */
  tooMany: 'too_many_sends_in_server',
  /** Wrong password, or a SEND to a session that never got the right one. */
  password: 'PASSWORD',
  /** The line knows no session with this sendid (expired after 90 s, or the line restarted). */
  unknownSession: 'SENDID',
  /** The line has no GSM network. */
  loggedOut: 'GSM_LOGOUT',
} as const;

export type BulkSessionError = keyof typeof BULK_SESSION_ERRORS | 'other';

export type BulkReply =
  | { kind: 'passwordRequest'; sendId: number }
  | { kind: 'ready'; sendId: number }
  | { kind: 'wait'; sendId: number; telId: number }
  | { kind: 'sent'; sendId: number; telId: number; smsNo: number | null }
  | { kind: 'sendFailed'; sendId: number; telId: number; status: string }
  | { kind: 'sessionError'; sendId: number; error: BulkSessionError; text: string }
  | { kind: 'done'; sendId: number };

/** The verb of each kind of bulk reply. */
export const BULK_REPLY_VERBS = {
  passwordRequest: 'PASSWORD',
  ready: 'SEND',
  wait: 'WAIT',
  sent: 'OK',
  sendFailed: 'ERROR',
  sessionError: 'ERROR',
  done: 'DONE',
} as const satisfies Readonly<Record<BulkReply['kind'], string>>;

/** How the status of `ERROR $sendid $telid errorstatus:$n` starts (any case): the radio failed to send. */
export const ERROR_STATUS_PREFIX = 'errorstatus:';

const ERROR_STATUS = new RegExp(`^${ERROR_STATUS_PREFIX}`, 'i');
const UNSIGNED = /^\d{1,15}$/;

const SESSION_ERROR_BY_TEXT = new Map<string, BulkSessionError>(
  Object.entries(BULK_SESSION_ERRORS).map(([key, text]) => [text, key as BulkSessionError]),
);

function toUnsigned(text: string | undefined): number | null {
  return text !== undefined && UNSIGNED.test(text) ? Number(text) : null;
}

/** The bulk-session meaning of a device reply, or null when it is none (a command reply, garbage). */
export function parseBulkReply(reply: Reply): BulkReply | null {
  const sendId = toUnsigned(reply.sendId);
  if (sendId === null) return null;
  const args = reply.args;
  switch (reply.verb) {
    case BULK_REPLY_VERBS.passwordRequest:
      return args.length === 0 ? { kind: 'passwordRequest', sendId } : null;
    case BULK_REPLY_VERBS.ready:
      return args.length === 0 ? { kind: 'ready', sendId } : null;
    case BULK_REPLY_VERBS.done:
      return args.length === 0 ? { kind: 'done', sendId } : null;
    case BULK_REPLY_VERBS.wait: {
      const telId = toUnsigned(args[0]);
      return telId === null ? null : { kind: 'wait', sendId, telId };
    }
    case BULK_REPLY_VERBS.sent: {
      const telId = toUnsigned(args[0]);
      if (telId === null) return null;
      return { kind: 'sent', sendId, telId, smsNo: toUnsigned(args[1]) };
    }
    case BULK_REPLY_VERBS.sendFailed: {
      const telId = toUnsigned(args[0]);
      if (telId !== null && args.length >= 2 && ERROR_STATUS.test(args[1])) {
        return { kind: 'sendFailed', sendId, telId, status: args.slice(1).join(' ') };
      }
      const text = reply.rest.trim();
      if (text === '') return null;
      return { kind: 'sessionError', sendId, error: SESSION_ERROR_BY_TEXT.get(text) ?? 'other', text };
    }
    default:
      return null;
  }
}
