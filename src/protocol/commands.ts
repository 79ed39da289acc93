/**
 * Server -> device commands of the seed (sections 5-11), one row each: the arguments in wire
 * order and where the password goes. Most put it last; CF, USSD and USSDEXIT put it right after
 * the sendid.
 */

export interface CommandDefinition {
  /** Argument names in wire order (excluding sendid and password). */
  args: readonly string[];
  passwordFirst?: boolean;
  /** The last argument may hold spaces (USSD codes, AT commands). */
  freeTextLast?: boolean;
  /** Reply verbs that end the request besides the command's own name and `ERROR`. */
  replyVerbs?: readonly string[];
}

export const COMMANDS: Readonly<Record<string, CommandDefinition>> = {
  get_gsm_num: { args: [] },
  set_gsm_num: { args: ['number'] },
  get_exp_time: { args: [] },
  set_exp_time: { args: ['minutes'] },
  get_remain_time: { args: [] },
  reset_remain_time: { args: [] },
  get_gsm_state: { args: [] },
  svr_drop_call: { args: [] },
  svr_reboot_module: { args: [] },
  svr_reboot_dev: { args: [] },
  GSM: { args: [], replyVerbs: ['GSM', 'GSMERROR'] },
  CF: { args: ['reason', 'mode', 'number', 'time'], passwordFirst: true, replyVerbs: ['CFOK', 'CFERROR', 'CFSTATE'] },
  USSD: { args: ['code'], passwordFirst: true, freeTextLast: true, replyVerbs: ['USSD', 'USSDERROR', 'USSDEXIT'] },
  USSDEXIT: { args: [], passwordFirst: true, replyVerbs: ['USSDEXIT', 'USSDERROR'] },
  get_imei: { args: [] },
  set_imei: { args: ['imei'] },
  get_out_call_interval: { args: [] },
  set_out_call_interval: { args: ['interval'] },
  module_ctl_i: { args: ['value'] },
  module_ctl: { args: ['value'] },
  set_base_cell: { args: ['cell'] },
  get_cells_list: { args: [] },
  CURCELL: { args: [] },
  ATSTART: { args: [] },
  ATSTOP: { args: [] },
  ATALIVE: { args: [] },
  ATCMD: { args: ['command'], freeTextLast: true },
};

const BY_LOWER_NAME = new Map(Object.keys(COMMANDS).map((name) => [name.toLowerCase(), name]));

/** The seed's spelling of a command name given in any case, or undefined. */
export function commandName(name: string): string | undefined {
  return BY_LOWER_NAME.get(name.trim().toLowerCase());
}
