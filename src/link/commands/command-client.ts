/**
 * Server commands (docs/protocol.md#control-commands) as request/response over the server's one UDP socket:
 * arguments checked before anything is sent, a fresh sendid per request, the SAME datagram
 * resent on silence, the reply matched by line + sendid + the verbs that answer that command,
 * late, duplicated and foreign replies ignored, and a CommandError naming the reason otherwise.
 *
 * Shares the server's 'reply' event with the bulk engine: command sendids come from their own
 * range (send-ids.ts), so neither ever takes a reply of the other's.
 */
import { EventEmitter } from 'node:events';
import {
  canonicalCommand,
  COMMANDS,
  commandArguments,
  type CommandName,
  CommandInputError,
  formatBulkDone,
  formatCommand,
  type GsmReply,
  interpretCommandReply,
  type Reply,
} from '../../protocol';
import { globalTimerSlot, type RetransmitPolicy, StepRetransmitter } from '../step-retransmitter';
import type { GoipServer } from '../goip-server';
import { AtSessions, type AtSessionInfo } from './at-sessions';
import { type CommandOptions, resolveCommandOptions } from './options';
import { CommandSendIds, isCommandSendId } from './send-ids';
import { type CommandClientEvents, type CommandCounters, CommandError } from './command-types';

interface Pending {
  line: string;
  command: CommandName;
  args: string[];
  sendId: number;
  timeoutMs: number;
  tries: number;
  /** Sends the datagram, the same one every timeoutMs, `tries` times in all. */
  step: StepRetransmitter;
  resolve(value: unknown): void;
  reject(err: CommandError): void;
}

/** The final answers the server confirms with `DONE $sendid` (docs/protocol.md#call-forwarding). */
const DONE_AFTER_VERBS = new Set(
  Object.values(COMMANDS)
    .filter((command) => command.doneAfterAnswer === true)
    .flatMap((command) => [...(command.replyVerbs ?? []), command.errorVerb]),
);
const RECENT_CF_MAX = 256;

function key(line: string, sendId: number): string {
  return `${line}\u0000${sendId}`;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

export class CommandClient extends EventEmitter<CommandClientEvents> {
  readonly options: CommandOptions;
  readonly counters: CommandCounters = { requests: 0, resends: 0, succeeded: 0, failed: 0, timeouts: 0, lateReplies: 0, foreignReplies: 0 };
  private readonly pending = new Map<string, Pending>();
  private readonly sendIds = new CommandSendIds();
  private readonly at: AtSessions;
  /** USSD requests wait for the previous one of their line. */
  private readonly ussdQueues = new Map<string, Promise<unknown>>();
  /** CF requests answered lately (key -> forget after): a repeated final reply gets DONE again. */
  private readonly recentCf = new Map<string, number>();
  private queued = 0;
  private running = false;

  constructor(
    private readonly server: GoipServer,
    options: Partial<CommandOptions> = {},
  ) {
    super();
    this.options = resolveCommandOptions(options);
    this.at = new AtSessions(
      this.options.atAliveMs,
      (line) =>
        this.request(line, 'ATALIVE').catch((err: Error) => {
          if (this.running) this.emit('warning', new Error(`AT session keepalive: ${err.message}`));
        }),
      (line) => this.server.line(line)?.online === true,
      (session) => {
        this.emit('atSession', session.line, false, session.sendId);
        this.emit('warning', new Error(`AT session of line ${session.line} ended: the line went offline`));
      },
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.server.on('reply', this.onReply);
  }

  /**
   * Stops: closes every AT session (one ATSTOP datagram each, no answer awaited) and rejects every
   * waiting request with code 'stopped'. Await it before the server's own stop(): it resolves once
   * the ATSTOP datagrams have left the socket.
   */
  stop(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.running = false;
    this.server.off('reply', this.onReply);
    const open = this.at.closeAll();
    for (const session of open) {
      const password = this.server.passwordOf(session.line) ?? '';
      this.server.sendToLine(session.line, formatCommand('ATSTOP', this.sendIds.next(session.line), password));
      this.emit('atSession', session.line, false, session.sendId);
    }
    for (const p of [...this.pending.values()]) {
      this.settle(p);
      p.reject(new CommandError(`the GoIP server stopped before line ${p.line} answered ${p.command}`, 'stopped', p.line, p.command));
    }
    this.recentCf.clear();
    // dgram resolves even a literal address on the next tick: let the sends leave before a close.
    return open.length === 0 ? Promise.resolve() : new Promise((resolve) => setImmediate(resolve));
  }

  /** Requests sent and waiting for an answer, plus USSD requests queued behind another. */
  get busy(): number {
    return this.pending.size + this.queued;
  }

  /** Open AT sessions (kept alive with ATALIVE). */
  atSessions(): AtSessionInfo[] {
    return this.at.list();
  }

  /**
   * Sends `command` (any case) to `line` with `input` as its arguments (see commandArguments) and
   * resolves with the interpreted answer. Rejects with a CommandError: at once for bad input, an
   * unknown or offline line; after every try for silence; on an error answer with its text.
   */
  request(line: string, command: string, input?: unknown): Promise<unknown> {
    let name: CommandName;
    let args: string[];
    try {
      name = canonicalCommand(command);
      args = commandArguments(name, input);
      if (typeof line !== 'string' || line.trim() === '') throw new CommandInputError('no line given (set the node\'s line or msg.line)');
      line = line.trim();
    } catch (err) {
      return Promise.reject(new CommandError((err as Error).message, 'input', typeof line === 'string' ? line : null, null));
    }
    const refusal = this.refusal(line, name);
    if (refusal !== null) return Promise.reject(refusal);
    this.counters.requests++;
    if (name === 'ATSTOP') this.closeAt(line);
    if (COMMANDS[name].network !== true) return this.dispatch(line, name, args);

    // One USSD exchange at a time per line: the device keeps only the newest USSD sendid.
    const previous = this.ussdQueues.get(line) ?? Promise.resolve();
    this.queued++;
    const result = previous.then(() => {
      this.queued--;
      const late = this.refusal(line, name);
      return late === null ? this.dispatch(line, name, args) : Promise.reject(late);
    });
    const tail = result.catch(() => undefined);
    this.ussdQueues.set(line, tail);
    void tail.then(() => {
      if (this.ussdQueues.get(line) === tail) this.ussdQueues.delete(line);
    });
    return result;
  }

  /** Why `line` cannot take a command now, or null. */
  private refusal(line: string, name: string): CommandError | null {
    if (!this.running) return new CommandError(`cannot send ${name}: the GoIP server is not running`, 'stopped', line, name);
    const info = this.server.line(line);
    if (info === undefined) return new CommandError(`unknown line "${line}": it is not in the configured lines list`, 'unknownLine', line, name);
    if (!info.online || info.address === null) return new CommandError(`line ${line} is offline: ${name} not sent`, 'offline', line, name);
    return null;
  }

  private dispatch(line: string, name: CommandName, args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const sendId = this.sendIds.next(line);
      const ussd = COMMANDS[name].network === true;
      const timeoutMs = ussd ? this.options.ussdTimeoutMs : this.options.commandTimeoutMs;
      const tries = 1 + (ussd ? this.options.ussdRetries : this.options.commandRetries);
      const policy: RetransmitPolicy = {
        dueAt: (sentAt) => sentAt + timeoutMs,
        exhausted: (_now, step) => step.resends + 1 >= tries,
      };
      const p: Pending = {
        line,
        command: name,
        args,
        sendId,
        timeoutMs,
        tries,
        step: new StepRetransmitter(globalTimerSlot(), policy, {
          now: Date.now,
          send: (datagram) => this.transmit(p, datagram),
          unanswered: () => this.timedOut(p),
        }),
        resolve,
        reject,
      };
      this.pending.set(key(line, sendId), p);
      p.step.start(formatCommand(name, sendId, this.server.passwordOf(line) ?? '', args));
    });
  }

  private transmit(p: Pending, datagram: string): boolean {
    if (p.step.resends > 0) this.counters.resends++;
    if (this.server.sendToLine(p.line, datagram)) return true;
    this.settle(p);
    this.counters.failed++;
    p.reject(new CommandError(`line ${p.line} has no address (never registered): ${p.command} not sent`, 'offline', p.line, p.command));
    return false;
  }

  private timedOut(p: Pending): void {
    this.settle(p);
    this.counters.timeouts++;
    this.counters.failed++;
    const tries = `${p.tries} ${p.tries === 1 ? 'try' : 'tries'}`;
    p.reject(new CommandError(`no answer from line ${p.line} to ${p.command} after ${tries} (${seconds(p.tries * p.timeoutMs)})`, 'timeout', p.line, p.command));
  }

  private settle(p: Pending): void {
    p.step.stop();
    this.pending.delete(key(p.line, p.sendId));
  }

  private readonly onReply = (line: string, reply: Reply | GsmReply): void => {
    const sendId = Number(reply.sendId);
    if (!isCommandSendId(sendId)) return; // a bulk session's
    const k = key(line, sendId);
    const p = this.pending.get(k);
    const verb = reply.kind === 'gsm' ? 'GSM' : reply.verb;
    if (p === undefined) {
      this.counters.lateReplies++;
      // The device may not have heard our DONE: a repeated CF answer gets it again.
      if (DONE_AFTER_VERBS.has(verb) && (this.recentCf.get(k) ?? 0) > Date.now()) this.server.sendToLine(line, formatBulkDone(sendId));
      return;
    }
    const result = interpretCommandReply(p.command, reply, p.args);
    if (result === null) {
      this.counters.foreignReplies++;
      return;
    }
    this.settle(p);
    if (COMMANDS[p.command].doneAfterAnswer === true) this.finishCf(line, sendId, k, p);
    if (!result.ok) {
      this.counters.failed++;
      p.reject(new CommandError(`${p.command} failed on line ${line}: ${result.text}`, 'device', line, p.command, result.text));
      return;
    }
    this.counters.succeeded++;
    if (COMMANDS[p.command].answer === 'atstart') {
      this.closeAt(line);
      this.at.open(line, sendId);
      this.emit('atSession', line, true, sendId);
    }
    p.resolve(result.value);
  };

  private closeAt(line: string): void {
    const session = this.at.get(line);
    if (session === undefined) return;
    this.at.close(line);
    this.emit('atSession', line, false, session.sendId);
  }

  private finishCf(line: string, sendId: number, k: string, p: Pending): void {
    this.server.sendToLine(line, formatBulkDone(sendId));
    const now = Date.now();
    if (this.recentCf.size >= RECENT_CF_MAX) {
      for (const [old, until] of this.recentCf) if (until <= now || this.recentCf.size >= RECENT_CF_MAX) this.recentCf.delete(old);
    }
    this.recentCf.set(k, now + p.tries * p.timeoutMs);
  }
}
