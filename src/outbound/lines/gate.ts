/**
 * Whether and when a line takes bulk work, as the engine's sessions and its fill pass ask it: the
 * line scheduler over the link's view of the lines, the hourly and daily limits, and the timers that open a
 * line again (a park that expires, the busy cooldown, the next day) by calling `reopened`.
 */
import type { Priority, SendStore } from '../../outbox/types';
import type { LineInfo } from '../../link/lines';
import type { BulkOptions, FleetHooks, LineHealthEvent } from '../options';
import type { LineScheduler } from './scheduler';
import { dailyLimitReached, HOUR_MS, hourlyLimitReached, localDay, msUntilNextDay, type ParkReason, type Quarantine, quietUntil } from './policy';
import type { ConfiguredLines, LineGate, LineSession } from '../session/ports';
import type { TimerHandle, TimerRegistry } from './timers';

export interface LineGateDeps {
  lines: LineScheduler;
  configured: ConfiguredLines;
  /** The lines' sends, for the hourly and daily limits. */
  usage: LineUsage;
  timers: TimerRegistry;
  options: BulkOptions;
  fleet: FleetHooks;
  /** Numbers of the line that may be on its radio outside any session. */
  watchedOn(line: string): number;
  /** A line may take work again. */
  reopened(): void;
  /** A line was parked. */
  parked(): void;
  /** A line was quarantined or recovered. */
  health(event: 'quarantine' | 'recovered', payload: LineHealthEvent): void;
}

/**
 * The lines' sends as the limits and the line order count them: read from the store at each fill
 * pass (the gate decides at once, without a store call), and counted on as numbers are sent.
 */
export class LineUsage {
  private day = '';
  private today = new Map<string, number>();
  private lastHour = new Map<string, number>();

  /** Reads what something counts: today's sends of every line, each line's of the last hour. */
  async refresh(store: Pick<SendStore, 'sentByLineOn' | 'sentSince'>, lines: readonly string[], now: number, counted: { today: boolean; hourly: boolean }): Promise<void> {
    const day = localDay(now);
    const today = new Map(counted.today ? await store.sentByLineOn(day) : []);
    const lastHour = new Map<string, number>();
    if (counted.hourly) for (const line of lines) lastHour.set(line, await store.sentSince(line, now - HOUR_MS));
    this.day = day;
    this.today = today;
    this.lastHour = lastHour;
  }

  noteSent(line: string): void {
    this.today.set(line, (this.today.get(line) ?? 0) + 1);
    this.lastHour.set(line, (this.lastHour.get(line) ?? 0) + 1);
  }

  sentToday(line: string, now: number): number {
    return localDay(now) === this.day ? (this.today.get(line) ?? 0) : 0;
  }

  /** Sends of the last hour as of the last refresh (time only lowers it: a limit holds no longer than it should by a fill pass). */
  sentLastHour(line: string): number {
    return this.lastHour.get(line) ?? 0;
  }
}

export class EngineLineGate implements LineGate {
  private dayTimer: TimerHandle | null = null;
  private quietTimer: TimerHandle | null = null;

  private readonly lines: LineScheduler;
  private readonly options: BulkOptions;

  constructor(private readonly deps: LineGateDeps) {
    this.lines = deps.lines;
    this.options = deps.options;
  }

  /** The lowest priority that may start a SEND now: inside quiet hours only high; the lines reopen when they end. */
  lowestPriority(now: number): Priority {
    const until = quietUntil(now, this.options);
    if (until === null) return 'low';
    this.quietTimer ??= this.deps.timers.after(until - now, () => {
      this.quietTimer = null;
      this.deps.reopened();
    });
    return 'high';
  }

  /** The line wants one more session now, within its limits. */
  wantsSession(info: LineInfo, now: number): boolean {
    return this.lines.wantsSession(info, now) && this.withinLimits(info.id, now);
  }

  /** The lines that may send now, within their limits: a sticky number waits only for one of them. */
  availableLines(now: number): string[] {
    return this.deps.configured
      .lines()
      .filter((info) => this.lines.maySend(info, now) && this.withinLimits(info.id, now))
      .map((info) => info.id);
  }

  /** The session's line may take its next number now. */
  mayClaim(session: LineSession): boolean {
    const now = Date.now();
    return this.lines.mayRun(session, this.deps.configured.line(session.line), now) && this.withinLimits(session.line, now);
  }

  handshakeAnswered(line: string): void {
    const left = this.lines.handshakeAnswered(line);
    if (left !== null) this.deps.health('recovered', { line, reason: left.reason });
  }

  handshakeUnanswered(line: string): void {
    this.quarantined(line, this.lines.handshakeUnanswered(line, Date.now()));
  }

  radioResult(line: string, sent: boolean): void {
    this.quarantined(line, this.lines.radioResult(line, sent, Date.now()));
  }

  mayReopen(session: LineSession): boolean {
    return this.lines.mayRun(session, this.deps.configured.line(session.line), Date.now());
  }

  sendDelay(line: string): number {
    return this.lines.sendDelay(line, Date.now());
  }

  noteNewNumber(line: string): void {
    this.lines.noteNewNumber(line, Date.now());
  }

  busy(session: LineSession): void {
    this.lines.noteBusy(session, Date.now());
    this.deps.timers.after(this.options.busyCooldownMs, this.deps.reopened);
  }

  park(line: string, reason: ParkReason): void {
    const now = Date.now();
    const until = reason === 'password' ? now + this.options.passwordParkMs : null;
    this.lines.park(line, reason, until);
    if (until !== null) this.deps.timers.after(until - now, this.deps.reopened);
    this.deps.parked();
  }

  silent(line: string, since: number): void {
    this.lines.noteSilent(line, since);
  }

  /** The engine stopped: its timers are gone. */
  reset(): void {
    this.dayTimer = null;
    this.quietTimer = null;
  }

  /** A new quarantine is told; any (a failed probe's too) opens the line for its probe when it ends. */
  private quarantined(line: string, started: Quarantine | null): void {
    const quarantine = this.lines.quarantineOf(line);
    if (quarantine === null) return;
    this.deps.timers.after(Math.max(0, quarantine.until - Date.now()), this.deps.reopened);
    if (started !== null) this.deps.health('quarantine', { line, reason: started.reason, until: started.until });
    this.deps.parked();
  }

  private withinLimits(line: string, now: number): boolean {
    return !this.deps.fleet.held(line) && !this.dailyLimitReached(line, now) && !this.hourlyLimitReached(line, now);
  }

  /** Rolling 60 minutes; the engine's poll looks again while it is reached. */
  private hourlyLimitReached(line: string, now: number): boolean {
    if (this.options.hourlyLimit <= 0) return false;
    const inFlight = this.lines.slot(line).inFlight() + this.deps.watchedOn(line);
    return hourlyLimitReached(this.deps.usage.sentLastHour(line), inFlight, this.options);
  }

  private dailyLimitReached(line: string, now: number): boolean {
    if (this.options.dailyLimit <= 0) return false;
    const inFlight = this.lines.slot(line).inFlight() + this.deps.watchedOn(line);
    if (!dailyLimitReached(this.deps.usage.sentToday(line, now), inFlight, this.options)) return false;
    if (this.dayTimer === null) {
      this.dayTimer = this.deps.timers.after(msUntilNextDay(Date.now()), () => {
        this.dayTimer = null;
        this.deps.reopened();
      });
    }
    return true;
  }
}
