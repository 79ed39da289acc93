/**
 * The bulk-send engine: takes recipients from the durable outbox and sends them through bulk
 * sessions on every usable line, keeping each line's single radio busy, with retransmission,
 * failover, parking of broken lines, resume after a restart and delivery-report correlation.
 *
 * Crash safety: a number is claimed in the outbox with (line, sendId, telId) before its SEND
 * leaves; after a restart it is re-asked with the same three, so the line answers from its memory
 * instead of sending again. Every reaction is one unit of work of ./commit/group-commit: the
 * store is asynchronous (SendStore), and nothing leaves before the unit's store calls are durable.
 */
import { EventEmitter } from 'node:events';
import type { Recipient, SendStore } from '../outbox/types';
import type { BulkReply } from '../protocol';
import type { GoipEvent, GoipServer } from '../link/goip-server';
import type { BulkProgress, BulkSenderEvents } from './options';
import { BulkSession } from './session/session';
import { DEFAULT_FLEET_HOOKS, type FleetHooks, type LineHealthEvent } from './options';
import { FleetTiming } from './lines/timing';
import { GroupCommit } from './commit/group-commit';
import { LineScheduler } from './lines/scheduler';
import { type BulkOptions, resolveBulkOptions } from './options';
import { EngineLineGate, LineUsage } from './lines/gate';
import { linesOfGroup, SessionOpener } from './engine-sessions';
import type { Quarantine } from './lines/policy';
import { RecipientOutcomes } from './commit/outcomes';
import { ReplyInbox } from './engine-sessions';
import { ServerLink } from './commit/group-commit';
import type { SessionPorts } from './session/ports';
import { resumableSessions } from './commit/outcomes';
import { SessionRegistry } from './engine-sessions';
import { TimedWake } from './lines/timers';
import { type TimerHandle, TimerRegistry } from './lines/timers';
import { WatchedNumbers } from './lines/result-wait';

export class BulkSender extends EventEmitter<BulkSenderEvents> {
  readonly options: BulkOptions;
  private readonly timers: TimerRegistry;
  private readonly lines: LineScheduler<BulkSession>;
  private readonly sessions: SessionRegistry;
  private readonly gate: EngineLineGate;
  private readonly commit: GroupCommit;
  private readonly outcomes: RecipientOutcomes;
  private readonly watched: WatchedNumbers;
  private readonly timing: FleetTiming;
  private readonly usage = new LineUsage();
  private readonly ports: SessionPorts;
  private readonly fleet: FleetHooks;
  private readonly opener: SessionOpener;
  private running = false;
  private fillTimer: TimerHandle | null = null;
  private readonly wake: TimedWake;
  private readonly inbox: ReplyInbox;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly server: GoipServer,
    private readonly store: SendStore,
    options: Partial<BulkOptions> = {},
    fleet: Partial<FleetHooks> = {},
  ) {
    super();
    this.options = resolveBulkOptions(options);
    this.fleet = { ...DEFAULT_FLEET_HOOKS, ...fleet };
    // Silence is judged only once the datagrams that reached the socket have been read.
    this.timers = new TimerRegistry(() => server.counters.datagrams);
    this.lines = new LineScheduler<BulkSession>(this.options, this.fleet.random);
    this.sessions = new SessionRegistry(this.lines);
    this.commit = new GroupCommit(
      store,
      {
        datagram: (line, datagram) => server.sendToLine(line, datagram),
        result: (recipient) => this.emit('result', recipient),
        progress: () => {
          if (this.listenerCount('progress') > 0) this.emit('progress', this.progress());
        },
      },
      (err) => {
        this.warn(err);
        this.restartFromStore();
      },
    );
    // The lines a recipient may still go to: those of its routing group.
    const configured = (recipient: Recipient): string[] => linesOfGroup(server.lines(), recipient.group, this.fleet);
    this.outcomes = new RecipientOutcomes(store, this.options, this.commit, configured, (change, line) => {
      if (change === 'sent') this.usage.noteSent(line);
      else this.scheduleFill();
    });
    this.watched = new WatchedNumbers(this.timers, this.options, (recipient) =>
      this.unitOfWork(() => this.outcomes.failed(recipient, 'line silent after accepting')),
    );
    this.timing = new FleetTiming((line) => this.lines.slot(line), this.options, () => this.sessions.values());
    const reopened = (): void => this.scheduleFill();
    const health = (event: 'quarantine' | 'recovered', payload: LineHealthEvent): boolean => this.emit(event, payload);
    const watchedOn = (line: string): number => this.watched.on(line);
    this.gate = new EngineLineGate({
      lines: this.lines,
      configured: server,
      usage: this.usage,
      timers: this.timers,
      options: this.options,
      fleet: this.fleet,
      watchedOn,
      reopened,
      parked: () => this.commit.progress(),
      health,
    });
    this.ports = this.sessionPorts();
    const { gate, lines, sessions, ports } = this;
    const register = (session: BulkSession): void => this.register(session);
    const usage = this.usage;
    this.opener = new SessionOpener({ configured: server, store, usage, gate, lines, sessions, fleet: this.fleet, ports, options: this.options, register, again: () => this.scheduleFill() });
    this.wake = new TimedWake(this.timers, () => store.nextTimedAt(), reopened);
    this.inbox = new ReplyInbox((replies) => {
      if (!this.running) return;
      this.commit.run(() => {
        for (const { line, reply } of replies) this.safely(() => this.handleReply(line, reply));
      });
    });
  }

  /** Resumes numbers claimed before a restart, listens to the server and starts sending. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.server.on('reply', this.inbox.onReply);
    this.server.on('lines', this.onLines);
    this.server.on('event', this.onEvent);
    this.commit.run(() => this.commit.track(this.resume()));
    this.poll();
  }

  /** New work was enqueued. */
  kick(): void {
    this.scheduleFill();
  }

  /**
   * Numbers claimed in sessions this engine does not run (on a line taken over from another
   * instance of a shared store) are resumed under their sendid and telids, as after a restart.
   */
  resumeClaimed(): void {
    if (!this.running) return;
    this.commit.run(() => this.commit.track(this.resume()));
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
    this.server.off('reply', this.inbox.onReply);
    this.server.off('lines', this.onLines);
    this.server.off('event', this.onEvent);
    this.sessions.stopAll();
    this.watched.clear();
    this.inbox.clear();
    this.timers.clearAll();
    this.fillTimer = null;
    this.wake.reset();
    this.gate.reset();
    return Promise.resolve();
  }

  progress(): BulkProgress {
    const inFlight = this.watched.size + this.sessions.inFlight();
    return { ...this.outcomes.counts, sessions: this.sessions.size, inFlight, parkedLines: this.lines.parkedCount(Date.now()) };
  }

  /** The line's quarantine (also while it is probed), null when it has none. */
  quarantineOf(line: string): Quarantine | null {
    return this.lines.quarantineOf(line);
  }

  // ---- scheduling ----

  private scheduleFill(): void {
    if (!this.running || this.fillTimer !== null) return;
    this.fillTimer = this.timers.after(0, () => {
      this.fillTimer = null;
      this.commit.run(() => {
        if (this.running) this.commit.track(this.fill());
      });
    });
  }

  /** A safety net: look for work even when no event said there is some. */
  private poll(): void {
    this.scheduleFill();
    this.timers.after(Math.max(1000, this.options.stepTimeoutMs), () => this.poll());
  }

  /**
   * The fill pass: queued recipients past their expiry end expired, the wake is set for the next
   * sendAt or expiry, and sessions open (./engine-sessions) for the priorities quiet hours let start.
   */
  private async fill(): Promise<void> {
    const now = Date.now();
    let queued = await this.store.queuedCount();
    if (queued > 0) {
      const expired = await this.store.expireDue();
      for (const recipient of expired) this.outcomes.expiredUnclaimed(recipient);
      queued -= expired.length;
      await this.wake.rearm(now);
    }
    await this.countUsage(now);
    if (this.running) await this.opener.fill(this.gate.lowestPriority(now), queued);
  }

  private async resume(): Promise<void> {
    await this.countUsage(Date.now());
    for (const claimed of await resumableSessions(this.store, this.server, this.fleet, this.outcomes)) {
      if (!this.running) return;
      if (this.sessions.find(claimed[0].line as string, claimed[0].sendId as number) !== undefined) continue; // running here already
      this.register(BulkSession.resume(this.ports, claimed[0].line as string, claimed[0].sendId as number, claimed));
    }
  }

  /** The lines' sends, read only where a limit or the leastUsed order counts them. */
  private countUsage(now: number): Promise<void> {
    const lines = this.server.lines().map((info) => info.id);
    const today = this.options.dailyLimit > 0 || this.fleet.linePolicy === 'leastUsed';
    return this.usage.refresh(this.store, lines, now, { today, hourly: this.options.hourlyLimit > 0 });
  }

  private register(session: BulkSession): void {
    this.sessions.add(session);
    session.start();
    this.commit.progress();
  }

  // ---- server events ----

  private handleReply(line: string, reply: BulkReply): void {
    if (this.lines.onHeard(line, Date.now())) this.scheduleFill();
    const watched = this.watched.take(line, reply);
    if (watched === null) return this.sessions.find(line, reply.sendId)?.onReply(reply);
    this.timing.watchedResultCame(line);
    if (reply.kind === 'sent' || reply.kind === 'sendFailed') this.gate.radioResult(line, reply.kind === 'sent');
    if (reply.kind === 'sent') this.outcomes.sent(watched, reply.smsNo);
    else if (reply.kind === 'sendFailed') this.outcomes.giveUp(watched, `radio failed to send it (${reply.status})`);
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
        this.commit.progress();
      }
    }
    if (changed) this.scheduleFill();
  };

  // ---- plumbing ----

  /** What the sessions see of the engine, one narrow port per piece. */
  private sessionPorts(): SessionPorts {
    const outcomes = this.outcomes;
    return {
      options: this.options,
      clock: {
        now: () => Date.now(),
        after: (ms, run) => this.timers.after(ms, () => this.unitOfWork(run)),
        cancel: (handle) => this.timers.cancel(handle),
      },
      link: new ServerLink(this.server, this.commit),
      warn: (err) => this.warn(err),
      gate: this.gate,
      radio: this.timing,
      roundTrips: this.timing,
      outcomes: {
        claimNext: (session, telId, claimed) => {
          if (!this.running || !this.gate.mayClaim(session)) return claimed(null);
          const now = Date.now();
          const lowest = this.gate.lowestPriority(now);
          const groups = this.fleet.groupsOf(session.line);
          const claim = this.store.claim(session.line, session.sendId, telId, 1, session.batchId, lowest, groups, session.text, this.gate.availableLines(now));
          this.commit.track(claim.then(([first]) => this.safely(() => claimed(first ?? null))));
        },
        sent: (tel, smsNo) => outcomes.sent(tel.recipient, smsNo),
        giveUp: (tel, reason) => outcomes.giveUp(tel.recipient, reason),
        fail: (tel, reason) => outcomes.failed(tel.recipient, reason),
        watch: (line, sendId, tel) => this.watched.watch(line, sendId, tel),
        handshakeDone: () => this.scheduleFill(),
        ended: (session) => {
          this.sessions.remove(session);
          this.scheduleFill();
          this.commit.progress();
        },
      },
    };
  }

  /** `run` as its own unit of work (a timer's): a throw is a warning, the engine carries on. */
  private unitOfWork(run: () => void): void {
    this.commit.run(() => this.safely(run));
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
