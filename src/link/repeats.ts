/**
 * Which authenticated reports were processed already: a resend (same verb, id and bytes, within
 * the line's de-duplication window) or an AT packet overtaken by a later one of its session. Both
 * are acked like any report and emitted never.
 */
import type { Report } from '../protocol';
import { fnv1a, murmurMix } from '../util/hash';
import type { LineState } from './lines';

export class RepeatFilter {
  /** Per line, the newest AT packet let through: its session (ATSTART sendid) and count. */
  private readonly atLast = new Map<string, { session: number; count: number }>();

  isRepeat(line: LineState, report: Report, key: number, now: number): boolean {
    if (line.dedup.seenBefore(key, now)) return true;
    return report.verb === 'AT' && this.atOvertaken(line.id, report);
  }

  /**
   * AT packets reach flows in count order: one overtaken by a later packet of its session (or
   * from an older session, sendids rise) is dropped like a duplicate. Lost ones are never resent.
   */
  private atOvertaken(line: string, report: Report): boolean {
    const session = Number(report.reportId);
    const count = Number(report.fields.count);
    if (!Number.isSafeInteger(count)) return false;
    const last = this.atLast.get(line);
    if (last !== undefined && (session < last.session || (session === last.session && count <= last.count))) return true;
    this.atLast.set(line, { session, count });
    return false;
  }
}

/**
 * The same report resent carries the same verb, id and bytes; a new one differs in at least one.
 * The key is a 53-bit hash of all three (FNV-1a and a Murmur-style mix): numbers cost the garbage collector
 * far less than strings kept for minutes, and a collision (odds ~1e-10 within one line's window)
 * would at worst drop a report of that authenticated line, so a cryptographic hash buys nothing.
 */
export function dedupKey(report: Report, text: string): number {
  const identity = report.verb === 'AT' ? `AT ${report.reportId} ${report.fields.count ?? ''}` : text;
  return fnv1a(identity) * 0x200000 + (murmurMix(identity) & 0x1fffff);
}
