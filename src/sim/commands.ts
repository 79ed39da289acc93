/**
 * Control commands (docs/protocol.md#control-commands), device side: password check, per-line
 * state, the reply forms of the specification and of real firmware. A retransmitted command (same
 * name and sendid) is answered again from memory, never executed twice; USSD has its own cache
 * (docs/protocol.md#ussd).
 */
import { type CommandName, COMMANDS, type Fields, formatGsmReply, formatReply, type ServerMessage, USSD_SEND_FAILED } from '../protocol';
import type { AtSession } from './at-session';
import type { LineContext } from './options';

export type CommandMessage = Extract<ServerMessage, { kind: 'command' }>;

const PASSWORD_ERROR = 'password error';

interface Answer {
  reply: string;
  /** Runs once, after the reply went out (AT packets, the CELLS report). */
  then?: () => void;
}

interface Request {
  readonly sendId: number;
  readonly args: readonly string[];
  /** `$command $sendid words...` */
  answer(...words: Array<string | number>): Answer;
  /** The command's own failure verb (ERROR for most): `$errorVerb $sendid words...` */
  fail(...words: Array<string | number>): Answer;
}

type Handler = (request: Request) => Answer;

/** USSD answers from its own cache, outside the handlers. */
type HandledCommand = Exclude<CommandName, 'USSD'>;

export class CommandHandler {
  private readonly answered = new Map<string, string>();
  /** USSD: the newest sendid and its answer (null while the network is still answering). */
  private ussd: { sendId: number; reply: string | null } | null = null;
  private readonly handlers: Readonly<Record<HandledCommand, Handler>>;

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
    const { errorVerb } = COMMANDS[name];
    const request: Request = {
      sendId,
      args,
      answer: (...words) => ({ reply: formatReply(name, sendId, ...words) }),
      fail: (...words) => ({ reply: formatReply(errorVerb, sendId, ...words) }),
    };
    const answer = password === this.ctx.options.password ? this.handlers[name](request) : request.fail(PASSWORD_ERROR);
    this.remember(key, answer.reply);
    this.answer(name, sendId, answer.reply, false);
    answer.then?.();
  }

  private buildHandlers(): Record<HandledCommand, Handler> {
    const { ctx } = this;
    const s = ctx.state;
    const ok: Handler = (r) => r.answer('ok');
    /** `set_x $sendid $value ok` after `apply`, or `ERROR $sendid $value invalid` (set errors carry the value). */
    const setter =
      (valid: (value: string) => boolean, apply: (value: string) => void): Handler =>
      (r) => {
        const [value] = r.args;
        if (!valid(value)) return r.fail(value, 'invalid');
        apply(value);
        return r.answer(value, 'ok');
      };
    const isCount = (v: string): boolean => /^-?\d{1,9}$/.test(v);

    return {
      get_gsm_num: (r) => r.answer(s.num),
      set_gsm_num: setter((v) => v !== '', (v) => (s.num = v)),
      get_exp_time: (r) => r.answer(s.expTime),
      set_exp_time: setter(isCount, (v) => (s.expTime = Number(v))),
      get_remain_time: (r) => r.answer(s.remainTime),
      reset_remain_time: (r) => {
        s.remainTime = s.expTime;
        return r.answer('ok');
      },
      get_gsm_state: (r) => r.answer(s.gsmState),
      svr_drop_call: (r) => {
        s.gsmState = 'IDLE';
        return r.answer('ok');
      },
      svr_reboot_module: ok,
      svr_reboot_dev: ok,
      GSM: (r) => ({ reply: formatGsmReply(r.sendId, this.gsmFields()) }),
      CF: (r) => (ctx.options.cfError ? r.fail() : { reply: formatReply('CFOK', r.sendId) }),
      USSDEXIT: (r) => r.answer(),
      get_imei: (r) => r.answer(s.imei),
      set_imei: setter((v) => /^\d{15}$/.test(v), (v) => (s.imei = v)),
      get_out_call_interval: (r) => r.answer(s.outCallInterval),
      set_out_call_interval: setter(isCount, (v) => (s.outCallInterval = Number(v))),
      // 1 enables; 0 (Chinese specification) and 2 (English) disable (docs/protocol.md#module-control).
      module_ctl_i: (r) => {
        const [value] = r.args;
        if (!['0', '1', '2'].includes(value)) return r.fail('invalid');
        s.moduleDown = value !== '1';
        return r.answer('ok');
      },
      // One digit per line of the gateway; a simulated line does not know its own position.
      module_ctl: (r) => (/^[012]+$/.test(r.args[0]) ? r.answer('ok') : r.fail('invalid')),
      set_base_cell: setter((v) => v !== '', (v) => (s.currentCell = v)),
      get_cells_list: (r) => ({
        ...r.answer('ok'),
        then: () => ctx.timers.after(ctx.options.cellsDelayMs, () => void ctx.report('CELLS', { lists: s.cells.map((c) => `${c},`).join('') })),
      }),
      CURCELL: (r) => r.answer(s.currentCell),
      ATSTART: (r) => {
        this.at.start(r.sendId);
        return r.answer('OK');
      },
      ATSTOP: (r) => {
        this.at.stop();
        return r.answer('OK');
      },
      ATALIVE: (r) => {
        this.at.keepAlive();
        return r.answer('OK');
      },
      ATCMD: (r) => {
        if (!this.at.open) return r.fail('AT_NOT_STARTED');
        return { ...r.answer('OK'), then: () => this.at.write(r.args[0]) };
      },
    };
  }

  /** Real firmware answers 7 fields; the specification documents the first 4 (docs/protocol.md#gsm-all-in-one). */
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
      this.answer('USSD', sendId, formatReply(COMMANDS.USSD.errorVerb, sendId, PASSWORD_ERROR), false);
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
      const configured = this.ctx.options.ussdReplies[code] ?? USSD_SEND_FAILED;
      entry.reply = typeof configured === 'string' ? formatReply('USSD', sendId, configured) : formatReply(COMMANDS.USSD.errorVerb, sendId, configured.error);
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
