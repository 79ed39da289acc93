/**
 * The configured lines: who may register (authentication), where each line registered from, and
 * when lines come online and go offline. No I/O: the server reads and writes the socket.
 */
import type { DeviceCredential } from './server-types';
import { addressKey, LineState } from './lines';

/** Source addresses remembered for rate-limiting rejection replies, at most. */
const REJECT_MEMORY_MAX = 10_000;

export interface RegistryOptions {
  dedupWindowMs: number;
  dedupMaxEntries: number;
  rejectReplyIntervalMs: number;
}

export class LineRegistry {
  private readonly passwords = new Map<string, string>();
  private readonly states = new Map<string, LineState>();
  private readonly byAddress = new Map<string, LineState>();
  private readonly lastRejectReply = new Map<string, number>();

  constructor(
    devices: readonly DeviceCredential[],
    private readonly options: RegistryOptions,
  ) {
    for (const device of devices) {
      this.passwords.set(device.id, device.password);
      this.states.set(device.id, new LineState(device.id, options.dedupWindowMs, options.dedupMaxEntries));
    }
  }

  get size(): number {
    return this.states.size;
  }

  all(): IterableIterator<LineState> {
    return this.states.values();
  }

  get(id: string): LineState | undefined {
    return this.states.get(id);
  }

  /** The line that registered from this address, if any. */
  at(address: string, port: number): LineState | undefined {
    return this.byAddress.get(addressKey(address, port));
  }

  isConfigured(id: string): boolean {
    return this.passwords.has(id);
  }

  passwordOf(id: string): string | undefined {
    return this.passwords.get(id);
  }

  /** The line when `password` is its password; undefined for an unknown id or a wrong password. */
  authenticate(id: string, password: string): LineState | undefined {
    const expected = this.passwords.get(id);
    if (expected === undefined || !constantTimeEqual(password, expected)) return undefined;
    return this.states.get(id);
  }

  /** Counts a refused datagram against the line it claimed (when configured). */
  countRejection(id: string): void {
    const line = this.states.get(id);
    if (line !== undefined) line.counters.rejected++;
  }

  register(line: LineState, address: string, port: number): void {
    if (line.address === address && line.port === port) return;
    const oldKey = line.addressKey;
    if (oldKey !== null && this.byAddress.get(oldKey) === line) this.byAddress.delete(oldKey);
    line.address = address;
    line.port = port;
    this.byAddress.set(addressKey(address, port), line);
  }

  /** Whether a rejection may go back to this source now: at most one per interval per source. */
  mayReplyRejection(address: string, port: number, now: number): boolean {
    const key = addressKey(address, port);
    const last = this.lastRejectReply.get(key);
    if (last !== undefined && now - last < this.options.rejectReplyIntervalMs) return false;
    if (this.lastRejectReply.size >= REJECT_MEMORY_MAX) this.lastRejectReply.clear();
    this.lastRejectReply.set(key, now);
    return true;
  }

  /** Records an authenticated datagram of `line`; true when that brought the line online. */
  markSeen(line: LineState, now: number): boolean {
    line.lastSeen = now;
    if (line.online) return false;
    line.online = true;
    line.onlineSince = now;
    return true;
  }

  /** Takes offline every line silent for `offlineAfterMs`; returns them. */
  sweepOffline(now: number, offlineAfterMs: number): LineState[] {
    const gone: LineState[] = [];
    for (const line of this.states.values()) {
      if (line.online && line.lastSeen !== null && now - line.lastSeen >= offlineAfterMs) {
        line.online = false;
        gone.push(line);
      }
    }
    return gone;
  }

  onlineCount(): number {
    let n = 0;
    for (const line of this.states.values()) if (line.online) n++;
    return n;
  }
}

/** Compares without an early exit, so timing does not tell how much of a password was right. */
function constantTimeEqual(given: string, expected: string): boolean {
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= (given.charCodeAt(i) | 0) ^ expected.charCodeAt(i);
  return diff === 0;
}
