/**
 * TP-SCTS/TP-DT time stamps: 7 swapped-BCD octets of the service centre's wall-clock time and its
 * zone. `date` is the instant (UTC: the wall time minus the stated zone); `iso` is that wall time
 * with the SC's own offset (`2006-02-07T14:56:03+00:00`), never converted to the server's zone.
 */

export interface PduTimestamp {
  /** The instant: the SC's wall-clock time minus its stated zone. */
  date: Date;
  /** The SC's wall-clock time with the SC's own offset, ISO 8601 (`2006-02-07T14:56:03+00:00`). */
  iso: string;
  /** The zone the SC stated, minutes east of UTC (negative west). */
  offsetMinutes: number;
}

function bcd(octet: number): number {
  const low = octet & 0x0f;
  const high = octet >> 4;
  return low > 9 || high > 9 ? Number.NaN : low * 10 + high;
}

/**
 * The 7 swapped-BCD octets of a TP-SCTS/TP-DT, checked (node-pdu reads bad digits as 0), with the
 * instant node-pdu computed (`seconds`, UTC).
 */
export function timestamp(octets: Uint8Array, seconds: number): PduTimestamp | null {
  const [, month, day, hour, minute, second] = [...octets.subarray(0, 6)].map(bcd);
  if (![month, day, hour, minute, second].every(Number.isInteger) || Number.isNaN(bcd(octets[0]))) return null;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const zone = octets[6];
  const quarters = (zone & 0x07) * 10 + (zone >> 4);
  if ((zone >> 4) > 9) return null;
  const offsetMinutes = (zone & 0x08 ? -1 : 1) * quarters * 15;
  const date = new Date(seconds * 1000);
  if (!Number.isFinite(date.getTime())) return null;
  return { date, iso: isoWithOffset(date, offsetMinutes), offsetMinutes };
}

function isoWithOffset(date: Date, offsetMinutes: number): string {
  const wall = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${wall}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
