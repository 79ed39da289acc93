/** What the server knows about each configured GoIP line. */
import type { Fields, Keepalive } from '../protocol';
import { DedupWindow } from './dedup';

export interface LineCounters {
  keepalives: number;
  reports: number;
  sms: number;
  duplicates: number;
  rejected: number;
}

/** The public view of a line (admin endpoint, online/offline/keepalive payloads). */
export interface LineInfo {
  id: string;
  address: string | null;
  port: number | null;
  online: boolean;
  /** AT+CSQ 0-31, 99 unknown, null never reported. */
  signal: number | null;
  /** 2*signal - 113, null when unknown. */
  signalDbm: number | null;
  gsmStatus: string;
  voipStatus: string;
  carrier: string;
  num: string;
  imei: string;
  imsi: string;
  iccid: string;
  /** ms since epoch of the last authenticated datagram, null never. */
  lastSeen: number | null;
  /** ms since epoch when the line last came online, null never. */
  onlineSince: number | null;
  counters: LineCounters;
}

export class LineState {
  address: string | null = null;
  port: number | null = null;
  online = false;
  lastSeen: number | null = null;
  onlineSince: number | null = null;
  signal: number | null = null;
  gsmStatus = '';
  voipStatus = '';
  carrier = '';
  num = '';
  imei = '';
  imsi = '';
  iccid = '';
  keepaliveFields: Fields = {};
  readonly counters: LineCounters = { keepalives: 0, reports: 0, sms: 0, duplicates: 0, rejected: 0 };
  readonly dedup: DedupWindow;
  /** Keys of reports whose ack waits for their consumer to store them (GoipServer.deferAcks). */
  readonly unacked = new Set<number>();

  constructor(
    readonly id: string,
    dedupWindowMs: number,
    dedupMaxEntries: number,
  ) {
    this.dedup = new DedupWindow(dedupWindowMs, dedupMaxEntries);
  }

  get addressKey(): string | null {
    return this.address === null ? null : addressKey(this.address, this.port as number);
  }

  applyKeepalive(k: Keepalive): void {
    this.signal = k.signal;
    this.gsmStatus = k.gsmStatus;
    this.voipStatus = k.voipStatus;
    this.carrier = k.carrier;
    this.num = k.num;
    this.imei = k.imei;
    this.imsi = k.imsi;
    this.iccid = k.iccid;
    this.keepaliveFields = k.fields;
  }

  info(): LineInfo {
    const signal = this.signal;
    return {
      id: this.id,
      address: this.address,
      port: this.port,
      online: this.online,
      signal,
      signalDbm: signal === null || signal < 0 || signal > 31 ? null : 2 * signal - 113,
      gsmStatus: this.gsmStatus,
      voipStatus: this.voipStatus,
      carrier: this.carrier,
      num: this.num,
      imei: this.imei,
      imsi: this.imsi,
      iccid: this.iccid,
      lastSeen: this.lastSeen,
      onlineSince: this.onlineSince,
      counters: { ...this.counters },
    };
  }
}

export function addressKey(address: string, port: number): string {
  return `${address}|${port}`;
}
