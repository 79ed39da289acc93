/**
 * The bulk-send engine: takes recipients from the durable outbox and sends them through bulk
 * sessions on every usable line, keeping each line's single radio busy, with retransmission,
 * failover, parking of broken lines, resume after a restart and delivery-report correlation.
 *
 * Crash safety: a number is claimed in the outbox with (line, sendId, telId) before its SEND
 * leaves; after a restart it is re-asked with the same three, so the line answers from its memory
 * instead of sending again.
 */
import { EventEmitter } from 'node:events';
import type { Outbox, Recipient } from '../../outbox/types';
import { type BulkReply, type DeviceMessage, parseBulkReply } from '../../protocol';
import type { DeliveryCorrelator, GoipEvent, GoipServer } from '../goip-server';
import { LineScheduler } from './line-scheduler';
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
    this.server.setDeliveryCorrelator(this.correlateDelivery);
    this.safely(() => this.resume());
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
    if (!this.running) return Promise.resolve();
    this.running = false;
    this.server.off('reply', this.onReply);
    this.server.off('lines', this.onLines);
    this.server.off('event', this.onEvent);
    this.server.setDeliveryCorrelator(null);
    for (const session of this.sessions.values()) session.stop();
    this.sessions.clear();
    for (const slot of this.lines.all()) slot.sessions.clear();
    this.watched.clear();
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
      this.safely(() => this.fill());
    });
  }

  /** A safety net: look for work even when no event said there is some. */
  private poll(): void {
    this.scheduleFill();
    this.timers.after(Math.max(1000, this.options.stepTimeoutMs), () => this.poll());
  }

  /**
   * Opens sessions on every line that may take one, one line after the other, while work is left.
   * All the pass's claims are one commit; the sessions start (their MSGs leave) after it.
   */
  private fill(): void {
    if (!this.running || this.outbox.queuedCount() === 0) return;
    const opened: BulkSession[] = [];
    try {
      this.outbox.transaction(() => this.claimSessions(opened));
    } catch (err) {
      for (const session of opened) this.forget(session);
      throw err;
    }
    for (const session of opened) session.start();
    if (opened.length > 0) this.emitProgress();
  }

  private claimSessions(opened: BulkSession[]): void {
    const now = Date.now();
    const day = localDay(now);
    let candidates = this.server.lines().filter((info) => this.lines.wantsSession(info, now));
    while (candidates.length > 0) {
      const stillHungry = [];
      for (const info of candidates) {
        if (this.dailyLimitReached(info.id, day)) continue;
        const session = this.claimSession(info.id);
        if (session === null) continue;
        this.adopt(session);
        opened.push(session);
        if (this.lines.wantsSession(info, now)) stillHungry.push(info);
      }
      candidates = stillHungry;
    }
  }

  private claimSession(line: string): BulkSession | null {
    const sendId = this.outbox.nextSendId(line);
    const [first] = this.outbox.claim(line, sendId, 1, 1);
    return first === undefined ? null : BulkSession.fresh(this.host, line, sendId, first);
  }

  private resume(): void {
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
    this.adopt(session);
    session.start();
    this.emitProgress();
  }

  private adopt(session: BulkSession): void {
    this.sessions.set(sessionKey(session.line, session.sendId), session);
    this.lines.slot(session.line).sessions.add(session);
  }

  private forget(session: BulkSession): void {
    const key = sessionKey(session.line, session.sendId);
    if (this.sessions.get(key) === session) this.sessions.delete(key);
    this.lines.slot(session.line).sessions.delete(session);
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
    this.safely(() => {
      if (this.lines.onHeard(line, Date.now())) this.scheduleFill();
      if (this.resolveWatched(line, reply)) return;
      this.sessions.get(sessionKey(line, reply.sendId))?.onReply(reply);
    });
  };

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

  private readonly correlateDelivery: DeliveryCorrelator = (line, delivery) => {
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
    this.emit('result', recipient);
    this.emitProgress();
  }

  private recordFailed(held: Recipient, reason: string): void {
    if (this.stillClaimed(held) === null) return;
    const recipient = this.outbox.markFailed(held.messageId, reason);
    this.counts.failed++;
    this.emit('result', recipient);
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
      this.safely(() => this.recordFailed(tel.recipient, 'line silent after accepting'));
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
    this.lines.slot(line).radio.noteResult(Date.now(), null, false, true);
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
    this.forget(session);
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
      after: (ms, run) => this.timers.after(ms, () => this.safely(run)),
      cancel: (handle) => this.timers.cancel(handle),
      send: (line, datagram) => void server.sendToLine(line, datagram),
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
        const sample = slot.radio.noteResult(Date.now(), tel.acceptSeq === null ? null : tel.acceptedAt, !tel.reasked, slot.hasOlderPending(tel));
        if (sample !== null) this.radioSamples.note(sample);
        for (const session of [...slot.sessions]) {
          if (tel.askedAfterSeq !== null) session.radioPassed(tel.askedAfterSeq);
          session.paceChanged();
        }
      },
      overdueAt: (line, tel) => {
        const slot = lines.slot(line);
        if (tel.acceptSeq === null || tel.acceptedAt === null || slot.hasOlderPending(tel)) return null;
        const slowest = slot.radio.samples.value() ?? this.radioSamples.value();
        return slowest === null ? null : slot.radio.overdueAt(tel.acceptedAt, slowest, this.options);
      },
      noteRoundTrip: (line, ms) => {
        lines.slot(line).roundTrip.note(ms);
        this.roundTrip.note(ms);
      },
      retransmitDelay: (line, resends) => retransmitDelay(lines.slot(line).roundTrip, this.roundTrip, resends, this.options),
      watchAccepted: (session, tel) => this.watchAccepted(session, tel),
      lineBusy: (session) => {
        lines.noteBusy(session, Date.now());
        this.timers.after(this.options.busyCooldownMs, () => this.scheduleFill());
      },
      park: (line, reason) => this.park(line, reason),
      lineSilent: (line, since) => lines.noteSilent(line, since),
      ended: (session) => this.sessionEnded(session),
    };
  }

  private emitProgress(): void {
    if (this.listenerCount('progress') > 0) this.emit('progress', this.progress());
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
