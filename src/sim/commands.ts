/**
 * Control commands (seed sections 5-11), device side: password check, per-line state, the reply
 * forms the seed and real firmware use. A retransmitted command (same name and sendid) is
 * answered again from memory, never executed twice; USSD has the seed's own cache (section 6).
 */
import { type Fields, formatGsmReply, formatReply, type ServerMessage } from '../protocol';
import type { AtSession } from './at-session';
import { type LineContext, USSD_FAILED_TEXT } from './options';

export type CommandMessage = Extract<ServerMessage, { kind: 'command' }>;

const PASSWORD_ERROR = 'password error';

/** The failure verb a command's seed section names; `ERROR` for the rest. */
const ERROR_VERBS: Readonly<Record<string, string>> = { GSM: 'GSMERROR', CF: 'CFERROR', USSD: 'USSDERROR', USSDEXIT: 'USSDERROR' };

interface Answer {
  reply: string;
  /** Runs once, after the reply went out (AT packets, the CELLS report). */
  then?: () => void;
}

type Handler = (sendId: number, args: readonly string[]) => Answer;

export class CommandHandler {
  private readonly answered = new Map<string, string>();
  /** USSD: the newest sendid and its answer (null while the network is still answering). */
  private ussd: { sendId: number; reply: string | null } | null = null;
  private readonly handlers: Readonly<Record<string, Handler>>;

  constructor(
    private readonly ctx: LineContext,
    private readonly at: AtSession,
  ) {
    this.handlers = this.buildHandlers();
  }

  handle(command: CommandMessage): void {
    const { name, sendId, password, args } = command;
    if (name === 'USSD') return this.ussdCommand(sendId, password, args[0] ?? '');
    const key = `${name} ${sendId}`;
    const remembered = this.answered.get(key);
    if (remembered !== undefined) return this.answer(name, sendId, remembered, true);
    let answer: Answer;
    if (password !== this.ctx.options.password) {
      answer = { reply: formatReply(ERROR_VERBS[name] ?? 'ERROR', sendId, PASSWORD_ERROR) };
    } else {
      const handler = this.handlers[name];
      answer = handler === undefined ? { reply: formatReply('ERROR', sendId, 'unsupported') } : handler(sendId, args);
    }
    this.remember(key, answer.reply);
    this.answer(name, sendId, answer.reply, false);
    answer.then?.();
  }

  private buildHandlers(): Record<string, Handler> {
    const { ctx } = this;
    const s = ctx.state;
    const ok = (name: string): Handler => (sendId) => ({ reply: formatReply(name, sendId, 'ok') });
    const reply = (verb: string, sendId: number, ...args: Array<string | number>): Answer => ({ reply: formatReply(verb, sendId, ...args) });
    /** `set_x $sendid $value ok` after `apply`, or `ERROR $sendid $value invalid` (set errors carry the value). */
    const setter =
      (name: string, valid: (value: string) => boolean, apply: (value: string) => void): Handler =>
      (sendId, [value]) => {
        if (!valid(value)) return reply('ERROR', sendId, value, 'invalid');
        apply(value);
        return reply(name, sendId, value, 'ok');
      };
    const isCount = (v: string): boolean => /^-?\d{1,9}$/.test(v);

    return {
      get_gsm_num: (id) => reply('get_gsm_num', id, s.num),
      set_gsm_num: setter('set_gsm_num', (v) => v !== '', (v) => (s.num = v)),
      get_exp_time: (id) => reply('get_exp_time', id, s.expTime),
      set_exp_time: setter('set_exp_time', isCount, (v) => (s.expTime = Number(v))),
      get_remain_time: (id) => reply('get_remain_time', id, s.remainTime),
      reset_remain_time: (id) => {
        s.remainTime = s.expTime;
        return reply('reset_remain_time', id, 'ok');
      },
      get_gsm_state: (id) => reply('get_gsm_state', id, s.gsmState),
      svr_drop_call: (id) => {
        s.gsmState = 'IDLE';
        return reply('svr_drop_call', id, 'ok');
      },
      svr_reboot_module: ok('svr_reboot_module'),
      svr_reboot_dev: ok('svr_reboot_dev'),
      GSM: (id) => ({ reply: formatGsmReply(id, this.gsmFields()) }),
      CF: (id) => reply(ctx.options.cfError ? 'CFERROR' : 'CFOK', id),
      USSDEXIT: (id) => reply('USSDEXIT', id),
      get_imei: (id) => reply('get_imei', id, s.imei),
      set_imei: setter('set_imei', (v) => /^\d{15}$/.test(v), (v) => (s.imei = v)),
      get_out_call_interval: (id) => reply('get_out_call_interval', id, s.outCallInterval),
      set_out_call_interval: setter('set_out_call_interval', isCount, (v) => (s.outCallInterval = Number(v))),
      // 1 enables; 0 (CN seed) and 2 (EN seed) disable.
      module_ctl_i: (id, [value]) => {
        if (!['0', '1', '2'].includes(value)) return reply('ERROR', id, 'invalid');
        s.moduleDown = value !== '1';
        return reply('module_ctl_i', id, 'ok');
      },
      // One digit per line of the gateway; a simulated line does not know its own position.
      module_ctl: (id, [value]) => (/^[012]+$/.test(value) ? reply('module_ctl', id, 'ok') : reply('ERROR', id, 'invalid')),
      set_base_cell: setter('set_base_cell', (v) => v !== '', (v) => (s.currentCell = v)),
      get_cells_list: (id) => ({
        reply: formatReply('get_cells_list', id, 'ok'),
        then: () => ctx.timers.after(ctx.options.cellsDelayMs, () => void ctx.report('CELLS', { lists: s.cells.map((c) => `${c},`).join('') })),
      }),
      CURCELL: (id) => reply('CURCELL', id, s.currentCell),
      ATSTART: (id) => {
        this.at.start(id);
        return reply('ATSTART', id, 'OK');
      },
      ATSTOP: (id) => {
        this.at.stop();
        return reply('ATSTOP', id, 'OK');
      },
      ATALIVE: (id) => {
        this.at.keepAlive();
        return reply('ATALIVE', id, 'OK');
      },
      ATCMD: (id, [command]) => {
        if (!this.at.open) return reply('ERROR', id, 'AT_NOT_STARTED');
        return { reply: formatReply('ATCMD', id, 'OK'), then: () => this.at.write(command) };
      },
    };
  }

  /** Real firmware answers 7 fields; the seed documents the first 4. */
  private gsmFields(): Fields {
    const s = this.ctx.state;
    const fields: Fields = {
      get_gsm_num: s.num === '' ? '(null)' : s.num,
      get_exp_time: String(s.expTime),
      get_remain_time: String(s.remainTime),
      get_gsm_state: s.gsmState,
    };
    if (this.ctx.options.gsmReplyFields === 4) return fields;
    return { ...fields, imei: s.imei, out_call_interval: String(s.outCallInterval), module_down: s.moduleDown ? '1' : '0' };
  }

  /**
   * The device keeps the newest USSD sendid and its answer: a repeated or older sendid gets that
   * answer again (verbatim) without asking the network; one still being answered gets nothing yet.
   */
  private ussdCommand(sendId: number, password: string, code: string): void {
    if (password !== this.ctx.options.password) {
      this.answer('USSD', sendId, formatReply('USSDERROR', sendId, PASSWORD_ERROR), false);
      return;
    }
    const cached = this.ussd;
    if (cached !== null && sendId <= cached.sendId) {
      if (cached.reply !== null) this.answer('USSD', sendId, cached.reply, true);
      return;
    }
    const entry: { sendId: number; reply: string | null } = { sendId, reply: null };
    this.ussd = entry;
    this.ctx.timers.after(this.ctx.options.ussdDelayMs, () => {
      const configured = this.ctx.options.ussdReplies[code] ?? USSD_FAILED_TEXT;
      entry.reply = typeof configured === 'string' ? formatReply('USSD', sendId, configured) : formatReply('USSDERROR', sendId, configured.error);
      this.answer('USSD', sendId, entry.reply, false);
    });
  }

  private remember(key: string, reply: string): void {
    this.answered.set(key, reply);
    while (this.answered.size > this.ctx.options.commandMemory) {
      this.answered.delete(this.answered.keys().next().value as string);
    }
  }

  private answer(name: string, sendId: number, reply: string, repeated: boolean): void {
    this.ctx.send(reply);
    this.ctx.emit('command', name, sendId, reply, repeated);
  }
}
