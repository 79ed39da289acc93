/**
 * The block list as a lookup: is this number (in any of its forms, compared by sameNumber) on it?
 * Numbers are bucketed by a key that two sameNumber numbers always share, so a lookup compares
 * against a handful of entries, not the whole list.
 */
import { sameNumber } from '../pdu/numbers';

/** sameNumber needs at least this many common trailing digits for numbers that differ. */
const SUFFIX_DIGITS = 7;

/** Equal for any two numbers sameNumber matches (the converse need not hold). */
function bucketKey(number: string): string {
  if (/[A-Za-z]/.test(number)) return `a:${number.trim().toUpperCase()}`;
  const digits = number.replace(/\D/g, '').replace(/^0+/, '');
  return `d:${digits.length >= SUFFIX_DIGITS ? digits.slice(-SUFFIX_DIGITS) : digits}`;
}

export class BlockList {
  private readonly buckets = new Map<string, string[]>();

  constructor(numbers: Iterable<string>) {
    for (const number of numbers) this.add(number);
  }

  get size(): number {
    return this.buckets.size;
  }

  add(number: string): void {
    const key = bucketKey(number);
    const bucket = this.buckets.get(key) ?? [];
    bucket.push(number);
    this.buckets.set(key, bucket);
  }

  /** The entries that are the same number as `number`. */
  matches(number: string): string[] {
    return (this.buckets.get(bucketKey(number)) ?? []).filter((entry) => sameNumber(entry, number));
  }

  has(number: string): boolean {
    return this.matches(number).length > 0;
  }
}
