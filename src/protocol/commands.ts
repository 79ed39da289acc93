/**
 * Server -> device control commands (docs/protocol.md#command-table): ONE row per command, from which the
 * formatter and parser (server.ts), the argument checks and the reply reading (command-replies.ts)
 * and the simulator work; tests hold the editor's list, its help, the locales and the README table
 * against it. Adding a command: a row here and its simulator answer (src/sim/commands.ts); the
 * compiler asks for the latter, test/protocol/command-table.test.ts for its user documentation.
 */
import { cellId, type ArgumentCheck, imei, moduleDigits, moduleSwitch, oneOf, phoneNumber, singleLine, wholeNumber, withFallback } from './argument-checks';

/** The failure verb every command may get: `ERROR $sendid $text`. */
export const COMMAND_ERROR_VERB = 'ERROR';

/**
 * What a successful answer gives the flow as msg.payload (the editor's `goip-command.reply.<answer>`
 * describes each):
 *   text       the text after the sendid ('' for `(null)`)
 *   number     a number
 *   setText    `$sendid $value ok` -> the value set
 *   setNumber  the same, as a number
 *   ok         true (`$sendid ok`, `$sendid OK`, or the bare verb)
 *   gsm        the `GSM:$sendid;key:value;...` reply -> GsmInfo
 *   cf         CFOK -> true, CFSTATE -> {enable, number, time}
 *   ussd       the network's text
 *   cells      true; the list arrives later as a CELLS report
 *   atstart    true; an AT session is open
 *   atcmd      true; the module's output arrives as AT reports
 */
export type CommandAnswer = 'text' | 'number' | 'setText' | 'setNumber' | 'ok' | 'gsm' | 'cf' | 'ussd' | 'cells' | 'atstart' | 'atcmd';

interface CommandRow {
  /** The arguments in wire order (excluding sendid and password), each with its check. */
  readonly checks?: Readonly<Record<string, ArgumentCheck>>;
  /** The password goes right after the sendid (CF, USSD, USSDEXIT); the rest put it last. */
  readonly passwordFirst?: boolean;
  /** The last argument may hold spaces (USSD codes, AT commands). */
  readonly freeTextLast?: boolean;
  readonly answer: CommandAnswer;
  /** Verbs that answer it besides its own name, its error verb and ERROR. */
  readonly replyVerbs?: readonly string[];
  /** Its own failure verb (GSMERROR, CFERROR, USSDERROR: docs/protocol.md#command-rules); ERROR when it has none. */
  readonly errorVerb?: string;
  /** The server sends it on its own (ATALIVE keeps an AT session open): flows are not offered it. */
  readonly automatic?: boolean;
  /**
   * Answered from the mobile network: it waits the longer USSD timing, and a line runs one at a time
   * (the device keeps only its newest USSD sendid).
   */
  readonly network?: boolean;
  /** The server confirms the final answer with `DONE $sendid` (docs/protocol.md#call-forwarding). */
  readonly doneAfterAnswer?: boolean;
}

export interface CommandDefinition extends CommandRow {
  /** Argument names in wire order (excluding sendid and password). */
  readonly args: readonly string[];
  readonly checks: Readonly<Record<string, ArgumentCheck>>;
  readonly errorVerb: string;
}

const CF_REASONS = oneOf(['0', '1', '2', '3', '4', '5'], '0 unconditional, 1 busy, 2 no answer, 3 unreachable, 4 all, 5 all conditional');
const COUNT = wholeNumber(999_999_999);

const ROWS = {
  get_gsm_num: { answer: 'text' },
  set_gsm_num: { checks: { number: phoneNumber }, answer: 'setText' },
  get_exp_time: { answer: 'number' },
  set_exp_time: { checks: { minutes: COUNT }, answer: 'setNumber' },
  get_remain_time: { answer: 'number' },
  reset_remain_time: { answer: 'ok' },
  get_gsm_state: { answer: 'text' },
  svr_drop_call: { answer: 'ok' },
  svr_reboot_module: { answer: 'ok' },
  svr_reboot_dev: { answer: 'ok' },
  GSM: { answer: 'gsm', errorVerb: 'GSMERROR' },
  CF: {
    checks: {
      reason: CF_REASONS,
      mode: oneOf(['3', '4'], '3 (enable) or 4 (disable)'),
      number: phoneNumber,
      /** The no-answer delay in seconds, 0 for the other reasons. */
      time: withFallback(wholeNumber(999), '0'),
    },
    passwordFirst: true,
    answer: 'cf',
    replyVerbs: ['CFOK', 'CFSTATE'],
    errorVerb: 'CFERROR',
    doneAfterAnswer: true,
  },
  USSD: { checks: { code: singleLine }, passwordFirst: true, freeTextLast: true, answer: 'ussd', replyVerbs: ['USSDEXIT'], errorVerb: 'USSDERROR', network: true },
  USSDEXIT: { passwordFirst: true, answer: 'ok', errorVerb: 'USSDERROR', network: true },
  get_imei: { answer: 'text' },
  set_imei: { checks: { imei }, answer: 'setText' },
  get_out_call_interval: { answer: 'number' },
  set_out_call_interval: { checks: { interval: COUNT }, answer: 'setNumber' },
  module_ctl_i: { checks: { value: moduleSwitch }, answer: 'ok' },
  module_ctl: { checks: { value: moduleDigits }, answer: 'ok' },
  set_base_cell: { checks: { cell: cellId }, answer: 'setText' },
  get_cells_list: { answer: 'cells' },
  CURCELL: { answer: 'text' },
  ATSTART: { answer: 'atstart' },
  ATSTOP: { answer: 'ok' },
  ATALIVE: { answer: 'ok', automatic: true },
  ATCMD: { checks: { command: singleLine }, freeTextLast: true, answer: 'atcmd' },
} as const satisfies Readonly<Record<string, CommandRow>>;

export type CommandName = keyof typeof ROWS;

function definitions<Name extends string>(rows: Readonly<Record<Name, CommandRow>>): Readonly<Record<Name, CommandDefinition>> {
  const result = {} as Record<Name, CommandDefinition>;
  for (const name of Object.keys(rows) as Name[]) {
    const row = rows[name];
    const checks = row.checks ?? {};
    result[name] = { ...row, checks, args: Object.keys(checks), errorVerb: row.errorVerb ?? COMMAND_ERROR_VERB };
  }
  return result;
}

export const COMMANDS = definitions(ROWS);

const BY_LOWER_NAME = new Map(Object.keys(COMMANDS).map((name) => [name.toLowerCase(), name as CommandName]));

/** The specification's spelling (docs/protocol.md#command-table) of a command name given in any case, or undefined. */
export function commandName(name: string): CommandName | undefined {
  return BY_LOWER_NAME.get(name.trim().toLowerCase());
}
