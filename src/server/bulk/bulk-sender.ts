/**
 * The bulk-send engine: takes recipients from the durable outbox and sends them through bulk
 * sessions on every usable line, keeping each line's single radio busy, with retransmission,
 * failover, parking of broken lines, resume after a restart and delivery-report correlation.
 *
 * Crash safety: a number is claimed in the outbox with (line, sendId, telId) before its SEND
 * leaves; after a restart it is re-asked with the same three, so the line answers from its memory
 * instead of sending again.
 *
 * Group commit: everything the engine does in reaction to one thing (the replies read in one loop
 * turn, a timer, a fill pass) is one unit of work: one outbox commit, after which the datagrams
 * and results it produced leave. One fsync serves a burst of replies, and nothing leaves that
 * was not committed first.
 */
import { EventEmitter } from 'node:events';
import type { Outbox, Recipient } from '../../outbox/types';
import { type BulkReply, type DeviceMessage, parseBulkReply } from '../../protocol';
import type { DeliveryCorrelator, GoipEvent, GoipServer } from '../goip-server';
import { LineScheduler, type LineSlot } from './line-scheduler';
import { type BulkOptions, resolveBulkOptions } from './options';
import { fleetRadioSamples, RoundTrip, retransmitDelay } from './pace';
import { afterLineGaveUp, dailyLimitReached, localDay, msUntilNextDay, type ParkReason } from './policy';
import { BulkSession, type SessionHost, type Tel } from './session';
import { type TimerHandle, TimerRegistry } from './timers';

export interface BulkProgress {
  /** Final results since start(). */
  sent: number;
  failed: number;
  /** Numbers handed back to the queue for another line. */
  requeued: number;
  /** Results that came for a number no longer waiting for one (late or duplicated replies). */
  lateResults: number;
  sessions: number;
  /** Claimed numbers not final yet. */
  inFlight: number;
  parkedLines: number;
}

export interface BulkSenderEvents {
  /** A recipient reached a final state (sent or failed); once per recipient. */
  result: [Recipient];
  /** Something changed (a result, a requeue, a session, a parked line). */
  progress: [BulkProgress];
  /** The store or the engine failed on one step; the engine carries on. */
  warning: [Error];
}

/** A number that may be on a line's radio after its session ended: waits for the pushed result. */
interface Watched {
  recipient: Recipient;
  timer: TimerHandle;
}

/** What a unit of work produced, released after its commit. */
interface HeldOutput {
  datagrams: Array<[line: string, datagram: string]>;
  results: Recipient[];
  progress: boolean;
}

function sessionKey(line: string, sendId: number): string {
  return `${line}\u0000${sendId}`;
}

function telKey(line: string, sendId: number, telId: number): string {
  return `${line}\u0000${sendId}\u0000${telId}`;
}

export class BulkSender extends EventEmitter<BulkSenderEvents> {
  readonly options: BulkOptions;
  private readonly timers: TimerRegistry;
  private readonly lines: LineScheduler;
  private readonly sessions = new Map<string, BulkSession>();
  private readonly watched = new Map<string, Watched>();
  private readonly counts = { sent: 0, failed: 0, requeued: 0, lateResults: 0 };
  private readonly host: SessionHost;
  /** Round trips to all lines: the resend delay for a line not measured yet (start-up). */
  private readonly roundTrip = new RoundTrip();
  /** Radio times measured on all lines: the pace of a line with too few SMS of its own yet. */
  private readonly radioSamples = fleetRadioSamples();
  private running = false;
  private fillTimer: TimerHandle | null = null;
  /** Replies read in this loop turn, handled together as one unit of work. */
  private inbox: Array<{ line: string; reply: BulkReply }> = [];
  /** What the running unit of work produced, released after its commit; null outside one. */
  private held: HeldOutput | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private dayTimer: TimerHandle | null = null;

  constructor(
    private readonly server: GoipServer,
    private readonly outbox: Outbox,
    options: Partial<BulkOptions> = {},
  ) {
    super();
    this.options = resolveBulkOptions(options);
    // Silence is judged only once the datagrams that reached the socket have been read.
    this.timers = new TimerRegistry(() => server.counters.datagrams);
    this.lines = new LineScheduler(this.options);
    this.host = this.createHost();
  }

  /** Resumes numbers claimed before a restart, listens to the server and starts sending. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.server.on('reply', this.onReply);
    this.server.on('lines', this.onLines);
    this.server.on('event', this.onEvent);
    this.unitOfWork(() => this.resume());
    this.poll();
  }

  /** New work was enqueued. */
  kick(): void {
    this.scheduleFill();
  }

  /**
   * Stops sending: clears every timer and forgets the sessions. Claimed numbers stay claimed in
   * the outbox; the next start() re-asks them.
   */
  stop(): Promise<void> {
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (!this.running) return Promise.resolve();
    this.running = false;
    this.server.off('reply', this.onReply);
    this.server.off('lines', this.onLines);
    this.server.off('event', this.onEvent);
    for (const session of this.sessions.values()) session.stop();
    this.sessions.clear();
    for (const slot of this.lines.all()) slot.sessions.clear();
    this.watched.clear();
    this.inbox = [];
    this.timers.clearAll();
    this.fillTimer = null;
    this.dayTimer = null;
    return Promise.resolve();
  }

  progress(): BulkProgress {
    let inFlight = this.watched.size;
    for (const session of this.sessions.values()) inFlight += session.inFlight;
    return { ...this.counts, sessions: this.sessions.size, inFlight, parkedLines: this.lines.parkedCount(Date.now()) };
  }

  // ---- scheduling ----

  private scheduleFill(): void {
    if (!this.running || this.fillTimer !== null) return;
    this.fillTimer = this.timers.after(0, () => {
      this.fillTimer = null;
      this.unitOfWork(() => this.fill());
    });
  }

  /** A safety net: look for work even when no event said there is some. */
  private poll(): void {
    this.scheduleFill();
    this.timers.after(Math.max(1000, this.options.stepTimeoutMs), () => this.poll());
  }

  /**
   * Opens one session on every line that may take one; all the claims are one commit, and the
   * sessions start (their MSGs leave) after it. Lines that want more get them in a later pass,
   * once their session is authorized (handshakeDone): every line's first number is under way
   * before anyone's second session competes with it.
   */
  private fill(): void {
    if (!this.running || this.outbox.queuedCount() === 0) return;
    const now = Date.now();
    const day = localDay(now);
    let opened = 0;
    for (const info of this.server.lines()) {
      if (!this.lines.wantsSession(info, now) || this.dailyLimitReached(info.id, day)) continue;
      const session = this.claimSession(info.id);
      if (session === null) continue;
      this.register(session);
      opened++;
    }
    if (opened > 0 && this.server.lines().some((info) => this.lines.wantsSession(info, now))) this.scheduleFill();
  }

  private claimSession(line: string): BulkSession | null {
    const sendId = this.outbox.nextSendId(line);
    const [first] = this.outbox.claim(line, sendId, 1, 1);
    return first === undefined ? null : BulkSession.fresh(this.host, line, sendId, first);
  }

  private resume(): void {
    // Queued numbers no configured line may send would wait forever: they end now, with the reason.
    for (const recipient of this.outbox.failUnsendable(this.server.lines().map((info) => info.id))) {
      this.counts.failed++;
      this.emitResult(recipient);
    }
    const groups = new Map<string, Recipient[]>();
    for (const recipient of this.outbox.claimedRecipients()) {
      const { line, sendId, telId } = recipient;
      if (line === null || sendId === null || telId === null) continue;
      if (this.server.line(line) === undefined) {
        this.giveUp(recipient, 'line no longer configured');
        continue;
      }
      const key = sessionKey(line, sendId);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [recipient]);
      else group.push(recipient);
    }
    for (const claimed of groups.values()) {
      this.register(BulkSession.resume(this.host, claimed[0].line as string, claimed[0].sendId as number, claimed));
    }
  }

  private register(session: BulkSession): void {
    this.sessions.set(sessionKey(session.line, session.sendId), session);
    this.lines.slot(session.line).sessions.add(session);
    session.start();
    this.emitProgress();
  }

  private dailyLimitReached(line: string, day: string): boolean {
    if (this.options.dailyLimit <= 0) return false;
    const inFlight = this.lines.slot(line).inFlight() + this.watchedOn(line);
    if (!dailyLimitReached(this.outbox.sentToday(line, day), inFlight, this.options)) return false;
    if (this.dayTimer === null) {
      this.dayTimer = this.timers.after(msUntilNextDay(Date.now()), () => {
        this.dayTimer = null;
        this.scheduleFill();
      });
    }
    return true;
  }

  private watchedOn(line: string): number {
    let n = 0;
    for (const { recipient } of this.watched.values()) if (recipient.line === line) n++;
    return n;
  }

  // ---- server events ----

  private readonly onReply = (line: string, message: DeviceMessage): void => {
    if (message.kind !== 'reply') return;
    const reply = parseBulkReply(message);
    if (reply === null) return;
    if (this.inbox.length === 0) setImmediate(this.handleInbox);
    this.inbox.push({ line, reply });
  };

  private readonly handleInbox = (): void => {
    const replies = this.inbox;
    this.inbox = [];
    if (!this.running) return;
    this.unitOfWork(() => {
      for (const { line, reply } of replies) this.safely(() => this.handleReply(line, reply));
    });
  };

  private handleReply(line: string, reply: BulkReply): void {
    if (this.lines.onHeard(line, Date.now())) this.scheduleFill();
    if (this.resolveWatched(line, reply)) return;
    this.sessions.get(sessionKey(line, reply.sendId))?.onReply(reply);
  }

  private readonly onLines = (): void => {
    this.scheduleFill();
    this.safely(() => {
      for (const session of [...this.sessions.values()]) {
        if (this.server.line(session.line)?.online === true) session.poke();
      }
    });
  };

  private readonly onEvent = (event: GoipEvent): void => {
    let changed = this.lines.onHeard(event.line, event.receivedAt);
    if (event.event === 'keepalive') {
      const gsmStatus = (event.payload as { gsmStatus?: string }).gsmStatus ?? '';
      if (this.lines.onKeepalive(event.line, gsmStatus)) {
        changed = true;
        this.emitProgress();
      }
    }
    if (changed) this.scheduleFill();
  };

  /** The messageId of a DELIVER report (its TP-Status recorded in the outbox), or null: the gateway asks it once per report. */
  readonly correlateDelivery: DeliveryCorrelator = (line, delivery) => {
    if (delivery.smsNo === null) return null;
    try {
      const now = Date.now();
      const recipient = this.outbox.correlateDelivery(line, delivery.smsNo, this.options.deliveryWindowMs, now);
      if (recipient === null) return null;
      if (delivery.state !== null) this.outbox.markDelivery(recipient.messageId, delivery.state, now);
      return recipient.messageId;
    } catch (err) {
      this.warn(err);
      return null;
    }
  };

  // ---- outcomes (the outbox) ----

  /**
   * The stored recipient when it is still claimed exactly as `held` (same line, sendId, telId);
   * null for a late or duplicated reply about a number that has moved on (never double-count).
   */
  private stillClaimed(held: Recipient): Recipient | null {
    const stored = this.outbox.get(held.messageId);
    if (stored?.state === 'claimed' && stored.line === held.line && stored.sendId === held.sendId && stored.telId === held.telId) {
      return stored;
    }
    this.counts.lateResults++;
    return null;
  }

  private recordSent(held: Recipient, smsNo: number | null): void {
    if (this.stillClaimed(held) === null) return;
    const recipient = this.outbox.markSent(held.messageId, smsNo, localDay(Date.now()));
    this.counts.sent++;
    this.emitResult(recipient);
    this.emitProgress();
  }

  private recordFailed(held: Recipient, reason: string): void {
    if (this.stillClaimed(held) === null) return;
    const recipient = this.outbox.markFailed(held.messageId, reason);
    this.counts.failed++;
    this.emitResult(recipient);
    this.emitProgress();
  }

  /** The line has not sent it: requeue it for another line, or fail it (policy). */
  private giveUp(held: Recipient, reason: string): void {
    const stored = this.stillClaimed(held);
    if (stored === null) return;
    const line = held.line as string;
    const configured = this.server.lines().map((info) => info.id);
    const disposition = afterLineGaveUp(stored, line, reason, this.options.maxAttempts, configured);
    if (disposition.action === 'fail') return this.recordFailed(held, disposition.reason);
    this.outbox.requeue(held.messageId, line);
    this.counts.requeued++;
    this.scheduleFill();
    this.emitProgress();
  }

  private watchAccepted(session: BulkSession, tel: Tel): void {
    const key = telKey(session.line, session.sendId, tel.telId);
    if (this.watched.has(key)) return;
    const left = (tel.acceptedAt ?? Date.now()) + this.options.acceptedTimeoutMs - Date.now();
    const timer = this.timers.after(left, () => {
      this.watched.delete(key);
      this.unitOfWork(() => this.safely(() => this.recordFailed(tel.recipient, 'line silent after accepting')));
    });
    this.watched.set(key, { recipient: tel.recipient, timer });
  }

  /** A pushed result for a watched number; true when it was one. */
  private resolveWatched(line: string, reply: BulkReply): boolean {
    if (reply.kind !== 'sent' && reply.kind !== 'sendFailed') return false;
    const key = telKey(line, reply.sendId, reply.telId);
    const watched = this.watched.get(key);
    if (watched === undefined) return false;
    this.watched.delete(key);
    this.timers.cancel(watched.timer);
    this.lines.slot(line).radio.noteResult({ at: Date.now(), takenAt: null, acceptedAt: null, pushed: false, queuedBehind: true }, null);
    if (reply.kind === 'sent') this.recordSent(watched.recipient, reply.smsNo);
    else this.giveUp(watched.recipient, `radio failed to send it (${reply.status})`);
    return true;
  }

  private park(line: string, reason: ParkReason): void {
    const now = Date.now();
    const until = reason === 'password' ? now + this.options.passwordParkMs : null;
    this.lines.park(line, reason, until);
    if (until !== null) this.timers.after(until - now, () => this.scheduleFill());
    this.emitProgress();
  }

  private sessionEnded(session: BulkSession): void {
    const key = sessionKey(session.line, session.sendId);
    if (this.sessions.get(key) === session) this.sessions.delete(key);
    this.lines.slot(session.line).sessions.delete(session);
    this.scheduleFill();
    this.emitProgress();
  }

  // ---- plumbing ----

  private createHost(): SessionHost {
    const lines = this.lines;
    const server = this.server;
    return {
      options: this.options,
      now: () => Date.now(),
      after: (ms, run) => this.timers.after(ms, () => this.unitOfWork(() => this.safely(run))),
      cancel: (handle) => this.timers.cancel(handle),
      send: (line, datagram) => {
        if (this.held === null) server.sendToLine(line, datagram);
        else this.held.datagrams.push([line, datagram]);
      },
      password: (line) => server.passwordOf(line) ?? '',
      heardSince: (line, since) => {
        const lastSeen = server.line(line)?.lastSeen ?? null;
        return lastSeen !== null && lastSeen > since;
      },
      lineOnline: (line) => server.line(line)?.online === true,
      mayReopen: (session) => lines.mayRun(session, server.line(session.line), Date.now()),
      sendDelay: (line) => lines.sendDelay(line, Date.now()),
      noteNewNumber: (line) => lines.noteNewNumber(line, Date.now()),
      claimNext: (session, telId) => {
        const now = Date.now();
        if (!this.running || !lines.mayRun(session, server.line(session.line), now)) return null;
        if (this.dailyLimitReached(session.line, localDay(now))) return null;
        return this.outbox.claim(session.line, session.sendId, telId, 1, session.batchId)[0] ?? null;
      },
      sent: (_session, tel, smsNo) => this.recordSent(tel.recipient, smsNo),
      giveUp: (_session, tel, reason) => this.giveUp(tel.recipient, reason),
      fail: (_session, tel, reason) => this.recordFailed(tel.recipient, reason),
      noteAccepted: (line) => ++lines.slot(line).acceptances,
      acceptances: (line) => lines.slot(line).acceptances,
      radioDone: (line, tel) => {
        const slot = lines.slot(line);
        const ahead = slot.radioAhead(tel);
        const result = { at: Date.now(), takenAt: tel.takenAt, acceptedAt: tel.acceptedAt, pushed: !tel.reasked, queuedBehind: ahead === null || ahead.count > 0 };
        const sample = slot.radio.noteResult(result, this.slowestRadio(slot));
        const fleetPaceKnownBefore = this.radioSamples.value() !== null;
        if (sample !== null) this.radioSamples.note(sample);
        const askedAfterSeq = tel.askedAfterSeq;
        if (askedAfterSeq !== null) for (const session of [...slot.sessions]) session.radioPassed(askedAfterSeq);
        // The first pace known at all: the numbers of lines without one of their own can use it now.
        const fleetPaceNew = !fleetPaceKnownBefore && this.radioSamples.value() !== null;
        for (const session of [...(fleetPaceNew ? this.sessions.values() : slot.sessions)]) session.paceChanged();
      },
      radioQueueChanged: (line) => {
        for (const session of [...lines.slot(line).sessions]) session.paceChanged();
      },
      overdueAt: (line, tel) => {
        const slot = lines.slot(line);
        const ahead = slot.radioAhead(tel);
        const slowest = this.slowestRadio(slot);
        if (ahead === null || slowest === null || tel.acceptedAt === null) return null;
        return slot.radio.overdueAt(tel.acceptedAt, ahead, slowest, this.options);
      },
      noteRoundTrip: (line, ms) => {
        const firstEver = this.roundTrip.timeout() === null;
        lines.slot(line).roundTrip.note(ms);
        this.roundTrip.note(ms);
        if (firstEver) for (const session of [...this.sessions.values()]) session.roundTripMeasured();
      },
      retransmitDelay: (line, resends, capMs) => retransmitDelay(lines.slot(line).roundTrip, this.roundTrip, resends, this.options, capMs),
      watchAccepted: (session, tel) => this.watchAccepted(session, tel),
      handshakeDone: () => this.scheduleFill(),
      lineBusy: (session) => {
        lines.noteBusy(session, Date.now());
        this.timers.after(this.options.busyCooldownMs, () => this.scheduleFill());
      },
      park: (line, reason) => this.park(line, reason),
      lineSilent: (line, since) => lines.noteSilent(line, since),
      ended: (session) => this.sessionEnded(session),
    };
  }

  /** The line's slowest recent SMS, or every line's while it has too few of its own. */
  private slowestRadio(slot: LineSlot): number | null {
    return slot.radio.samples.value() ?? this.radioSamples.value();
  }

  private emitProgress(): void {
    if (this.held !== null) this.held.progress = true;
    else if (this.listenerCount('progress') > 0) this.emit('progress', this.progress());
  }

  private emitResult(recipient: Recipient): void {
    if (this.held !== null) this.held.results.push(recipient);
    else this.emit('result', recipient);
  }

  /**
   * Runs `work` as one outbox commit; the datagrams and results it produced leave after the
   * commit. When the commit fails none of them may leave (claims behind them are not stored):
   * the engine rebuilds itself from the store a little later.
   */
  private unitOfWork(work: () => void): void {
    if (this.held !== null) return work();
    const held: HeldOutput = { datagrams: [], results: [], progress: false };
    this.held = held;
    try {
      this.outbox.transaction(work);
    } catch (err) {
      this.held = null;
      this.warn(err);
      this.restartFromStore();
      return;
    }
    this.held = null;
    for (const [line, datagram] of held.datagrams) this.server.sendToLine(line, datagram);
    for (const recipient of held.results) this.emit('result', recipient);
    if (held.progress) this.emitProgress();
  }

  /** Forgets every session and resumes from what the store holds, after busyRetryMs. */
  private restartFromStore(): void {
    if (!this.running) return;
    void this.stop();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.start();
    }, this.options.busyRetryMs);
  }

  private safely(run: () => void): void {
    try {
      run();
    } catch (err) {
      this.warn(err);
    }
  }

  private warn(err: unknown): void {
    this.emit('warning', err instanceof Error ? err : new Error(String(err)));
  }
}
