/**
 * What the editor's GoIP sidebar shows of one gateway: each line (online, signal and its last hour,
 * carrier, GSM state, SMS in and out today, last contact), the queue by state and the last events.
 * Node-RED-free: fed by the gateway's event stream and send results; tells 'change' when there is
 * something new, and snapshot() builds the view. Message texts (SMS, USSD) appear only when
 * `showTexts` is on; nothing else of a message and no password ever does.
 */
import { EventEmitter } from 'node:events';
import type { Recipient } from '../outbox/types';
import type { GoipEvent } from '../link';
import type { LineInfo } from '../link/lines';
import { localDay, msUntilNextDay } from '../outbound/lines/policy';
import type { GoipGateway } from './gateway';

export interface FleetViewOptions {
  /** Show SMS and USSD texts in the event list, default false. */
  showTexts?: boolean;
  /** Events kept, default 50. */
  maxEvents?: number;
  /** Signal history kept, default one hour, one sample per minute (the newest of it). */
  historyMs?: number;
}

export interface FleetLine {
  id: string;
  online: boolean;
  signal: number | null;
  signalDbm: number | null;
  /** [minute start (ms epoch), AT+CSQ signal], oldest first. */
  signalHistory: Array<[number, number]>;
  carrier: string;
  gsmStatus: string;
  smsInToday: number;
  /** Null when sending is unavailable (no store). */
  smsOutToday: number | null;
  lastSeen: number | null;
}

export interface FleetEvent {
  at: number;
  event: string;
  line: string;
  /** A short description: the sender, the recipient and status, a value; texts only when shown. */
  summary: string;
}

export interface FleetSnapshot {
  at: number;
  lines: FleetLine[];
  /** Null when sending is unavailable (no store). */
  queue: { queued: number; claimed: number } | null;
  partsHeld: number;
  events: FleetEvent[];
}

const MINUTE_MS = 60_000;
/** Keepalives come every 30 s per line: in the lines table, not the event list. */
const UNLISTED_EVENTS: ReadonlySet<string> = new Set(['keepalive']);
/** Events whose payload is a message text. */
const TEXT_EVENTS: ReadonlySet<string> = new Set(['sms', 'ussn']);
const MAX_SUMMARY = 120;

/** A listed event; its summary is written when a snapshot shows it (under load most leave the list unseen). */
interface Listed extends Omit<FleetEvent, 'summary'> {
  summary: () => string;
}

export class FleetView extends EventEmitter<{ change: [] }> {
  private readonly showTexts: boolean;
  private readonly maxEvents: number;
  private readonly historyMs: number;
  private readonly events: Listed[] = [];
  /** The local day of the receive times counted last, and the span it is valid for. */
  private day = { name: '', from: 0, until: 0 };
  private readonly history = new Map<string, Array<[number, number]>>();
  private readonly smsIn = new Map<string, { day: string; count: number }>();
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly gateway: GoipGateway,
    options: FleetViewOptions = {},
  ) {
    super();
    this.showTexts = options.showTexts ?? false;
    this.maxEvents = options.maxEvents ?? 50;
    this.historyMs = options.historyMs ?? 3_600_000;
    const onEvent = (event: GoipEvent): void => this.onEvent(event);
    gateway.on('event', onEvent);
    this.detach.push(() => gateway.off('event', onEvent));
    const onResult = (recipient: Recipient): void => {
      this.remember({ at: Date.now(), event: recipient.state, line: recipient.line ?? '', summary: () => `${recipient.number}${recipient.error ? ` · ${recipient.error}` : ''}` });
    };
    gateway.sender?.on('result', onResult);
    this.detach.push(() => gateway.sender?.off('result', onResult));
  }

  async snapshot(): Promise<FleetSnapshot> {
    const now = Date.now();
    const day = localDay(now);
    const outbox = this.gateway.store?.outbox ?? null;
    const [sent, queued, claimed] =
      outbox === null ? [null, 0, 0] : await Promise.all([outbox.sentByLineOn(day), outbox.queuedCount(), outbox.claimedCount()]);
    return {
      at: now,
      lines: this.gateway.server.lines().map((line) => this.lineView(line, day, now, sent)),
      queue: outbox === null ? null : { queued, claimed },
      partsHeld: this.gateway.parts.heldCount,
      events: this.events.map(({ at, event, line, summary }) => ({ at, event, line, summary: summary() })),
    };
  }

  close(): void {
    for (const off of this.detach.splice(0)) off();
    this.removeAllListeners();
  }

  private lineView(line: LineInfo, day: string, now: number, sent: ReadonlyMap<string, number> | null): FleetLine {
    const received = this.smsIn.get(line.id);
    const history = (this.history.get(line.id) ?? []).filter(([minute]) => this.isRecent(minute, now));
    return {
      id: line.id,
      online: line.online,
      signal: line.signal,
      signalDbm: line.signalDbm,
      signalHistory: history,
      carrier: line.carrier,
      gsmStatus: line.gsmStatus,
      smsInToday: received?.day === day ? received.count : 0,
      smsOutToday: sent === null ? null : (sent.get(line.id) ?? 0),
      lastSeen: line.lastSeen,
    };
  }

  private onEvent(event: GoipEvent): void {
    if (event.event === 'keepalive') this.sample(event.line, (event.payload as LineInfo).signal, event.receivedAt);
    if (event.event === 'sms') this.countIn(event.line, event.receivedAt);
    if (UNLISTED_EVENTS.has(event.event)) {
      this.emit('change');
      return;
    }
    this.remember({ at: event.receivedAt, event: event.event, line: event.line, summary: () => this.summary(event) });
  }

  private remember(entry: Listed): void {
    this.events.unshift(entry);
    this.events.length = Math.min(this.events.length, this.maxEvents);
    this.emit('change');
  }

  /** The newest signal of each minute; an unknown signal (99, none) leaves a gap. */
  private sample(line: string, signal: number | null, at: number): void {
    if (signal === null || signal < 0 || signal > 31) return;
    const minute = at - (at % MINUTE_MS);
    const samples = this.history.get(line) ?? [];
    const last = samples[samples.length - 1];
    if (last !== undefined && last[0] === minute) last[1] = signal;
    else samples.push([minute, signal]);
    while (samples.length > 0 && !this.isRecent(samples[0][0], at)) samples.shift();
    this.history.set(line, samples);
  }

  /** A minute is kept while any of it lies within the history span. */
  private isRecent(minute: number, now: number): boolean {
    return minute + MINUTE_MS > now - this.historyMs;
  }

  private countIn(line: string, at: number): void {
    if (!(at >= this.day.from && at < this.day.until)) this.day = { name: localDay(at), from: at, until: at + msUntilNextDay(at) };
    const day = this.day.name;
    const current = this.smsIn.get(line);
    this.smsIn.set(line, { day, count: current?.day === day ? current.count + 1 : 1 });
  }

  private summary(event: GoipEvent): string {
    const text = TEXT_EVENTS.has(event.event) ? (this.showTexts ? String(event.payload) : null) : describe(event.payload);
    const parts = [event.from, event.parts !== undefined && event.parts > 1 ? `${event.parts} parts` : undefined, text];
    const summary = parts.filter((part) => part !== undefined && part !== null && part !== '').join(' · ');
    return summary.length > MAX_SUMMARY ? `${summary.slice(0, MAX_SUMMARY - 1)}…` : summary;
  }
}

/** A payload in a few words: a value as it is, an object as its fields (the line's info without its address). */
function describe(payload: unknown): string {
  if (payload === null || payload === undefined) return '';
  if (typeof payload !== 'object') return String(payload);
  const record = payload as Record<string, unknown>;
  if ('gsmStatus' in record && 'carrier' in record) return [record.gsmStatus, record.carrier].filter(Boolean).join(' · ');
  return Object.entries(record)
    .filter(([, value]) => value !== null && value !== '' && typeof value !== 'object')
    .map(([key, value]) => `${key}: ${String(value)}`)
    .join(', ');
}
