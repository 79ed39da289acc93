/**
 * Balance and SIM-number checks by USSD on a schedule, per line: through the CommandClient, so a
 * check waits for a user's USSD on the same line (and the other way round), and never on an
 * offline line (a check due while the line is away runs when it comes back). Tells `balance`,
 * `lowbalance` and `number` as gateway events and holds lines parked on a low balance.
 */
import type { GoipEvent, GoipServer } from '../link';
import type { CommandClient } from '../link/commands';
import { type CheckSettings, isLow, nextCheckAt, parseSchedule, readAmount, readNumber } from './check-settings';

/** Longest single timer wait (setTimeout's limit is about 24.8 days): a later check is re-planned. */
const MAX_WAIT_MS = 2 ** 31 - 1;

export interface LineReadings {
  balance: number | null;
  /** When the balance was read (ms epoch), null never. */
  balanceAt: number | null;
  balanceText: string | null;
  low: boolean;
  /** The SIM's number as a USSD answer told it, null unknown. */
  number: string | null;
}

export interface FleetChecksPorts {
  server: GoipServer;
  commands: CommandClient;
  settingsOf(line: string): CheckSettings;
  publish(event: GoipEvent): void;
  /** A line parked on a low balance may take numbers again. */
  released(): void;
  warn(err: Error): void;
}

interface LineCheck {
  readings: LineReadings;
  timer: ReturnType<typeof setTimeout> | null;
  lastBalanceAt: number | null;
  /** A check came due while the line was offline: it runs when the line is back. */
  overdue: boolean;
  asking: boolean;
}

export class FleetChecks {
  private readonly lines = new Map<string, LineCheck>();
  private running = false;

  constructor(private readonly ports: FleetChecksPorts) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.ports.server.on('event', this.onEvent);
    for (const info of this.ports.server.lines()) if (info.online) this.lineOnline(info.id);
  }

  stop(): void {
    this.running = false;
    this.ports.server.off('event', this.onEvent);
    for (const check of this.lines.values()) if (check.timer !== null) clearTimeout(check.timer);
    this.lines.clear();
  }

  readings(line: string): LineReadings | undefined {
    return this.lines.get(line)?.readings;
  }

  /** The line is parked on a low balance. */
  held(line: string): boolean {
    return this.lines.get(line)?.readings.low === true && this.ports.settingsOf(line).parkOnLowBalance;
  }

  private readonly onEvent = (event: GoipEvent): void => {
    if (event.event === 'online') this.lineOnline(event.line);
  };

  private check(line: string): LineCheck {
    let check = this.lines.get(line);
    if (check === undefined) {
      check = { readings: { balance: null, balanceAt: null, balanceText: null, low: false, number: null }, timer: null, lastBalanceAt: null, overdue: false, asking: false };
      this.lines.set(line, check);
    }
    return check;
  }

  private lineOnline(line: string): void {
    const settings = this.ports.settingsOf(line);
    const check = this.check(line);
    if (settings.balanceUssd !== '' && (check.overdue || check.lastBalanceAt === null || check.timer === null)) {
      const schedule = parseSchedule(settings.balanceEvery);
      // Interval: the first check as soon as the line is there; cron: at its times only.
      if (check.overdue || (schedule.kind === 'interval' && check.lastBalanceAt === null)) void this.run(line);
      else this.plan(line);
    }
    if (this.wantsNumber(line)) void this.askNumber(line);
  }

  private plan(line: string): void {
    const settings = this.ports.settingsOf(line);
    const check = this.check(line);
    if (!this.running || settings.balanceUssd === '') return;
    if (check.timer !== null) clearTimeout(check.timer);
    const dueAt = nextCheckAt(parseSchedule(settings.balanceEvery), check.lastBalanceAt, Date.now());
    if (!Number.isFinite(dueAt)) return;
    check.timer = setTimeout(() => {
      check.timer = null;
      if (Date.now() < dueAt) this.plan(line);
      else void this.run(line);
    }, Math.min(MAX_WAIT_MS, Math.max(0, dueAt - Date.now())));
  }

  /** The due checks of a line: its balance, and its number while unknown. */
  private async run(line: string): Promise<void> {
    const check = this.check(line);
    if (!this.online(line)) {
      check.overdue = true;
      return;
    }
    check.overdue = false;
    check.lastBalanceAt = Date.now();
    this.plan(line);
    await this.askBalance(line);
    if (this.wantsNumber(line)) await this.askNumber(line);
  }

  private async askBalance(line: string): Promise<void> {
    const settings = this.ports.settingsOf(line);
    const text = await this.ussd(line, settings.balanceUssd);
    if (text === null) return;
    const amount = readAmount(text, settings.balancePattern);
    if (amount === null) return this.ports.warn(new Error(`line ${line}: no amount in the balance answer "${text}"`));
    const readings = this.check(line).readings;
    const wasLow = readings.low;
    const wasHeld = this.held(line);
    Object.assign(readings, { balance: amount, balanceAt: Date.now(), balanceText: text, low: isLow(amount, settings) });
    this.publish(line, 'balance', { line, amount, text });
    if (readings.low && !wasLow) this.publish(line, 'lowbalance', { line, amount, text, threshold: settings.lowBalance });
    if (wasHeld && !this.held(line)) this.ports.released();
  }

  private wantsNumber(line: string): boolean {
    const check = this.check(line);
    return this.ports.settingsOf(line).numberUssd !== '' && !check.asking && check.readings.number === null && (this.ports.server.line(line)?.num ?? '') === '';
  }

  private async askNumber(line: string): Promise<void> {
    const check = this.check(line);
    const settings = this.ports.settingsOf(line);
    check.asking = true;
    try {
      const text = await this.ussd(line, settings.numberUssd);
      if (text === null) return;
      const number = readNumber(text, settings.numberPattern);
      if (number === null) return this.ports.warn(new Error(`line ${line}: no number in the answer "${text}"`));
      check.readings.number = number;
      this.publish(line, 'number', { line, number, text });
    } finally {
      check.asking = false;
    }
  }

  /** The answer text, or null (offline, stopped, timeout, device error: the latter two are warned). */
  private async ussd(line: string, code: string): Promise<string | null> {
    if (!this.online(line)) return null;
    try {
      const answer = await this.ports.commands.request(line, 'USSD', code);
      return this.running ? String(answer) : null;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (this.running && code !== 'offline' && code !== 'stopped') this.ports.warn(err as Error);
      return null;
    }
  }

  private online(line: string): boolean {
    return this.running && this.ports.server.line(line)?.online === true;
  }

  private publish(line: string, event: string, payload: object): void {
    if (this.running) this.ports.publish({ event, line, payload, fields: {}, receivedAt: Date.now() });
  }
}
