/**
 * The engine's sessions: how it opens them on its lines (its fill pass: the order of the line
 * policy, lines in good standing claiming their first number at once, the others earning it by
 * answering), the live ones (kept in the line book, by line and sendid), and the bulk replies
 * read in one loop turn, handed over together as one unit of work once the turn's input is read.
 */
import { type BulkReply, type DeviceMessage, parseBulkReply } from '../protocol';
import type { Priority, SendStore } from '../outbox/types';
import type { LineInfo } from '../link/lines';
import { BulkSession } from './session/session';
import type { BulkOptions, FleetHooks } from './options';
import type { EngineLineGate, LineUsage } from './lines/gate';
import { LineOrder } from './lines/policy';
import type { LineScheduler } from './lines/scheduler';
import type { ConfiguredLines, SessionOnLine, SessionPorts } from './session/ports';

export interface InboxReply {
  line: string;
  reply: BulkReply;
}

export class ReplyInbox {
  private replies: InboxReply[] = [];

  constructor(private readonly deliver: (replies: InboxReply[]) => void) {}

  /** The server's 'reply' listener: keeps the bulk replies, ignores the rest. */
  readonly onReply = (line: string, message: DeviceMessage): void => {
    if (message.kind !== 'reply') return;
    const reply = parseBulkReply(message);
    if (reply === null) return;
    if (this.replies.length === 0) setImmediate(this.handOver);
    this.replies.push({ line, reply });
  };

  /** Forgets the replies not handed over yet. */
  clear(): void {
    this.replies = [];
  }

  private readonly handOver = (): void => {
    const replies = this.replies;
    this.replies = [];
    this.deliver(replies);
  };
}

/** What a probe session opens with: no batch, so it claims nothing (the device only stores the text). */
const PROBE = { batchId: '', text: 'probe' };

export interface OpenerDeps {
  configured: ConfiguredLines;
  store: SendStore;
  usage: LineUsage;
  gate: EngineLineGate;
  lines: LineScheduler<BulkSession>;
  sessions: SessionRegistry;
  fleet: FleetHooks;
  ports: SessionPorts;
  options: BulkOptions;
  register(session: BulkSession): void;
  /** Lines want more sessions: another fill pass soon. */
  again(): void;
}

/** The configured lines that may send a recipient of `group` (all of them when there are no groups). */
export function linesOfGroup(lines: readonly LineInfo[], group: string, fleet: FleetHooks): string[] {
  return lines.map((info) => info.id).filter((line) => fleet.groupsOf(line)?.includes(group) ?? true);
}

export class SessionOpener {
  private readonly order: LineOrder;

  constructor(private readonly deps: OpenerDeps) {
    this.order = new LineOrder(deps.fleet.linePolicy, deps.fleet.random);
  }

  /**
   * Opens one session on lines that may take one, in the order of the line policy. A line in good
   * standing gets its first number claimed at once (all the claims are one commit, the MSGs leave
   * after it); a line that left a handshake unanswered gets a session without a number (it claims
   * one once it answers the MSG), only while numbers are left that no such young handshake may
   * take, and a line whose quarantine is over gets its probe even without work. Lines that want
   * more get them in a later pass, once their session is authorized (handshakeDone): every line's
   * first number is under way before anyone's second session competes with it. Only work of
   * priority `lowest` or higher is claimed (quiet hours let only high priority start). `queued`:
   * the recipients waiting in the outbox now.
   */
  async fill(lowest: Priority, queued: number): Promise<void> {
    const now = Date.now();
    let unspoken = queued - this.reservations(now);
    if (unspoken <= 0 && !this.deps.configured.lines().some((info) => this.deps.lines.probing(info.id, now))) return;
    let opened = 0;
    const { store, usage } = this.deps;
    for (const info of this.order.order(this.deps.configured.lines(), (id) => usage.sentToday(id, now))) {
      const probing = this.deps.lines.probing(info.id, now);
      if ((unspoken <= 0 && !probing) || !this.deps.gate.wantsSession(info, now)) continue;
      const groups = this.deps.fleet.groupsOf(info.id);
      if (this.deps.lines.trusted(info.id)) {
        const sendId = await store.nextSendId(info.id);
        const [first] = await store.claim(info.id, sendId, 1, 1, undefined, lowest, groups, undefined, this.deps.gate.availableLines(now));
        if (first === undefined) continue;
        this.deps.register(BulkSession.fresh(this.deps.ports, info.id, sendId, first));
      } else {
        const batch = unspoken > 0 ? await store.nextBatch(info.id, groups, lowest) : null;
        if (batch === null && !probing) continue;
        this.deps.register(BulkSession.claimless(this.deps.ports, info.id, await store.nextSendId(info.id), batch ?? PROBE));
      }
      this.order.opened(info.id);
      unspoken--;
      opened++;
    }
    if (opened > 0 && this.deps.configured.lines().some((info) => this.deps.lines.wantsSession(info, now))) this.deps.again();
  }

  /** Sessions in a young handshake that will claim a queued number once their line answers. */
  private reservations(now: number): number {
    let n = 0;
    for (const session of this.deps.sessions.values()) if (session.reservesNumber(now, this.deps.options.stepTimeoutMs)) n++;
    return n;
  }
}


/** The engine's live sessions, as the line book keeps them: each in its line's slot, by sendid. */
export class SessionRegistry {
  private count = 0;

  constructor(private readonly lines: LineScheduler<BulkSession>) {}

  get size(): number {
    return this.count;
  }

  /** Numbers of every session not final yet. */
  inFlight(): number {
    let n = 0;
    for (const slot of this.lines.all()) n += slot.inFlight();
    return n;
  }

  *values(): IterableIterator<BulkSession> {
    for (const slot of this.lines.all()) yield* slot.sessions;
  }

  find(line: string, sendId: number): BulkSession | undefined {
    return this.lines.known(line)?.sessions.get(sendId);
  }

  add(session: BulkSession): void {
    if (this.lines.slot(session.line).sessions.add(session)) this.count++;
  }

  remove(session: SessionOnLine): void {
    if (this.lines.known(session.line)?.sessions.delete(session) === true) this.count--;
  }

  /** Stops and forgets every session (their claimed numbers stay claimed in the outbox). */
  stopAll(): void {
    for (const session of [...this.values()]) session.stop();
    for (const slot of this.lines.all()) slot.sessions.clear();
    this.count = 0;
  }
}
