/**
 * The text-mode (AT+CMGF=1) form of a status report, for modules that run in text mode:
 * `+CDS: <fo>,<mr>,[<ra>],[<tora>],<scts>,<dt>,<st>` (3GPP TS 27.005 3.4.1), e.g.
 * `+CDS: 6,8,"+8613853176777",145,"06/02/07,14:56:03+00","06/02/07,14:56:03+00",0`.
 */
import type { AddressType, StatusReport } from './decode';
import { PduError } from './octets';
import type { PduTimestamp } from './timestamps';

/** Splits on commas outside double quotes; quotes are removed. */
function splitFields(text: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      fields.push(current.trim());
      current = '';
    } else current += ch;
  }
  fields.push(current.trim());
  return fields;
}

function typeOfAddress(toa: number): AddressType {
  const types: readonly AddressType[] = ['unknown', 'international', 'national', 'network', 'subscriber', 'alphanumeric', 'abbreviated', 'reserved'];
  return Number.isInteger(toa) ? types[(toa >> 4) & 7] : 'unknown';
}

/** `yy/MM/dd,hh:mm:ss±zz`, zz in quarters of an hour. */
function textTimestamp(value: string): PduTimestamp | null {
  const m = /^(\d\d)\/(\d\d)\/(\d\d),(\d\d):(\d\d):(\d\d)([+-]\d{1,2})?$/.exec(value);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const offsetMinutes = m[7] === undefined ? 0 : Number(m[7]) * 15;
  const wall = Date.UTC(year > 70 ? 1900 + year : 2000 + year, month - 1, day, hour, minute, second);
  const date = new Date(wall - offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const iso = `${new Date(wall).toISOString().slice(0, 19)}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return { date, iso, offsetMinutes };
}

/** The fields after `+CDS: ` of a text-mode status report; PduError when they are not one. */
export function parseTextStatusReport(fieldsText: string): StatusReport {
  const fields = splitFields(fieldsText);
  // fo, mr, ra, tora, scts, dt, st (the times are quoted: their inner comma does not split)
  const bad = (why: string): PduError => new PduError('malformed', `not a text-mode status report: ${why}`, fieldsText.slice(0, 80));
  if (fields.length !== 7) throw bad(`${fields.length} fields, 7 expected`);
  const [fo, mr, ra, tora, scts, dt, st] = fields;
  const reference = Number(mr);
  const status = Number(st);
  if (!/^\d+$/.test(fo) || (Number(fo) & 3) !== 2) throw bad('first octet is not a status report');
  if (!/^\d{1,3}$/.test(mr) || reference > 255) throw bad('TP-MR is not 0-255');
  if (!/^\d{1,3}$/.test(st) || status > 255) throw bad('TP-ST is not 0-255');
  const toa = tora === '' ? Number.NaN : Number(tora);
  const recipientType = typeOfAddress(toa);
  const recipient = recipientType === 'international' && /^\d/.test(ra) ? `+${ra}` : ra;
  return {
    reference,
    recipient,
    recipientType,
    serviceCentreTime: textTimestamp(scts),
    dischargeTime: textTimestamp(dt),
    status,
    smsc: null,
  };
}
