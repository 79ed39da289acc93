/**
 * A thin adapter over node-pdu for the three TPDUs the AT stream carries (GSM 03.40 / 3GPP TS
 * 23.040): SMS-STATUS-REPORT after `+CDS: <len>`, SMS-DELIVER after `+CMT: ,<len>`, SMS-SUBMIT
 * written after `AT+CMGS=<len>`. Each PDU starts with its SMSC octet(s) (`00` = none), as modules
 * print and take them.
 *
 * node-pdu does the decoding; this module walks the octet layout first so that short or foreign
 * input fails with a PduError (node-pdu happily "decodes" a truncated report into NaN fields), and
 * turns node-pdu's objects into plain data. Nothing here throws anything but PduError.
 *
 * Time stamps: TP-SCTS/TP-DT carry the service centre's wall-clock time and its zone. `date` is
 * the instant (UTC: the wall time minus the stated zone); `iso` is that wall time with the SC's
 * own offset (`2006-02-07T14:56:03+00:00`), never converted to the server's zone.
 */
import { Deliver, parse, Report, Submit, utils } from 'node-pdu';

export type PduErrorCode = 'not-hex' | 'too-long' | 'truncated' | 'wrong-type' | 'malformed';

/** Why a PDU could not be decoded; the only error the decoders throw. */
export class PduError extends Error {
  override readonly name = 'PduError';

  constructor(
    readonly code: PduErrorCode,
    message: string,
    /** The offending input, cut to 80 characters. */
    readonly pdu: string,
  ) {
    super(message);
  }
}

export type AddressType = 'unknown' | 'international' | 'national' | 'network' | 'subscriber' | 'alphanumeric' | 'abbreviated' | 'reserved';

const ADDRESS_TYPES: readonly AddressType[] = ['unknown', 'international', 'national', 'network', 'subscriber', 'alphanumeric', 'abbreviated', 'reserved'];

export type TextEncoding = 'GSM-7' | '8-bit' | 'UCS-2';

export interface PduTimestamp {
  /** The instant: the SC's wall-clock time minus its stated zone. */
  date: Date;
  /** The SC's wall-clock time with the SC's own offset, ISO 8601 (`2006-02-07T14:56:03+00:00`). */
  iso: string;
  /** The zone the SC stated, minutes east of UTC (negative west). */
  offsetMinutes: number;
}

/** Concatenated-SMS information element of the user data header. */
export interface ConcatInfo {
  reference: number;
  part: number;
  total: number;
}

/** SMS-STATUS-REPORT (TP-MTI 2). */
export interface StatusReport {
  /** TP-MR: the `+CMGS: <mr>` of the send it reports on, 0-255 (wraps). */
  reference: number;
  /** TP-RA, the recipient of that send: `+` and digits when international, letters when alphanumeric. */
  recipient: string;
  recipientType: AddressType;
  /** TP-SCTS: when the SC took the message; null when the field is not a valid time. */
  serviceCentreTime: PduTimestamp | null;
  /** TP-DT: when the SC reached the status below; null when not a valid time. */
  dischargeTime: PduTimestamp | null;
  /** TP-ST: 0-31 delivered, 32-63 SC still trying, 64-127 (and 96+) failed (see deliveryStatus). */
  status: number;
  /** SMSC address from the PDU's own SMSC field, null when absent (`00`). */
  smsc: string | null;
}

/** SMS-DELIVER (TP-MTI 0): an inbound SMS. */
export interface DeliverMessage {
  sender: string;
  senderType: AddressType;
  text: string;
  encoding: TextEncoding;
  /** TP-SCTS; null when the field is not a valid time. */
  timestamp: PduTimestamp | null;
  smsc: string | null;
  /** Part of a long SMS, null for a single one. */
  concat: ConcatInfo | null;
}

/** SMS-SUBMIT (TP-MTI 1): what the module was asked to send. */
export interface SubmitMessage {
  /** TP-MR as written (modules usually write 0 and assign their own, returned in `+CMGS:`). */
  reference: number;
  recipient: string;
  recipientType: AddressType;
  /** TP-SRR: a status report was asked for. */
  statusReportRequested: boolean;
  text: string;
  encoding: TextEncoding;
  concat: ConcatInfo | null;
}

/** SMSC octet + the longest TPDU (SMS-SUBMIT with absolute VP and 140 octets of UD), with room to spare. */
const MAX_PDU_HEX = 2 * 200;

const { SCAType, DCS } = utils;

// ---- public decoders ----

export function decodeStatusReport(hex: string): StatusReport {
  const pdu = normalize(hex);
  const octets = walk(pdu, (r) => {
    r.skipSmsc();
    expectType(r.byte('first octet'), 2, 'SMS-STATUS-REPORT', pdu);
    r.byte('TP-MR');
    r.address('TP-RA');
    const scts = r.take(7, 'TP-SCTS');
    const dt = r.take(7, 'TP-DT');
    r.byte('TP-ST');
    return { scts, dt };
  });
  const report = parseAs(pdu, Report, 'SMS-STATUS-REPORT');
  return wrapped(pdu, () => ({
    reference: report.reference,
    recipient: addressText(report.address),
    recipientType: addressType(report.address),
    serviceCentreTime: timestamp(octets.scts, report.dateTime.time),
    dischargeTime: timestamp(octets.dt, report.discharge.time),
    status: report.status,
    smsc: smscText(report.serviceCenterAddress),
  }));
}

export function decodeDeliver(hex: string): DeliverMessage {
  const pdu = normalize(hex);
  const layout = walk(pdu, (r) => {
    r.skipSmsc();
    const firstOctet = r.byte('first octet');
    expectType(firstOctet, 0, 'SMS-DELIVER', pdu);
    r.address('TP-OA');
    r.byte('TP-PID');
    r.byte('TP-DCS');
    const scts = r.take(7, 'TP-SCTS');
    const udl = r.byte('TP-UDL');
    return { scts, udl, udOctets: r.remaining };
  });
  const deliver = parseAs(pdu, Deliver, 'SMS-DELIVER');
  return wrapped(pdu, () => {
    const encoding = encodingOf(deliver.dataCodingScheme.textAlphabet, pdu);
    checkUserData(layout.udl, layout.udOctets, encoding, pdu);
    return {
      sender: addressText(deliver.address),
      senderType: addressType(deliver.address),
      text: deliver.data.getText(),
      encoding,
      timestamp: timestamp(layout.scts, deliver.serviceCenterTimeStamp.time),
      smsc: smscText(deliver.serviceCenterAddress),
      concat: concatOf(deliver.data.parts),
    };
  });
}

export function decodeSubmit(hex: string): SubmitMessage {
  const pdu = normalize(hex);
  const layout = walk(pdu, (r) => {
    r.skipSmsc();
    const firstOctet = r.byte('first octet');
    expectType(firstOctet, 1, 'SMS-SUBMIT', pdu);
    r.byte('TP-MR');
    r.address('TP-DA');
    r.byte('TP-PID');
    r.byte('TP-DCS');
    const vpf = (firstOctet >> 3) & 3;
    r.take(vpf === 0 ? 0 : vpf === 2 ? 1 : 7, 'TP-VP');
    const udl = r.byte('TP-UDL');
    return { udl, udOctets: r.remaining, statusReportRequested: (firstOctet & 0x20) !== 0 };
  });
  const submit = parseAs(pdu, Submit, 'SMS-SUBMIT');
  return wrapped(pdu, () => {
    const encoding = encodingOf(submit.dataCodingScheme.textAlphabet, pdu);
    checkUserData(layout.udl, layout.udOctets, encoding, pdu);
    return {
      reference: submit.messageReference,
      recipient: addressText(submit.address),
      recipientType: addressType(submit.address),
      statusReportRequested: layout.statusReportRequested,
      text: submit.data.getText(),
      encoding,
      concat: concatOf(submit.data.parts),
    };
  });
}

// ---- octet layout ----

class Reader {
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly pdu: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  byte(what: string): number {
    if (this.pos >= this.bytes.length) throw new PduError('truncated', `PDU ends before ${what}`, this.pdu);
    return this.bytes[this.pos++];
  }

  take(n: number, what: string): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new PduError('truncated', `PDU ends inside ${what}`, this.pdu);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skipSmsc(): void {
    this.take(this.byte('SMSC length'), 'SMSC address');
  }

  /** An OA/DA/RA: its length counts useful semi-octets (digits, or 4-bit units of packed letters). */
  address(what: string): void {
    const semiOctets = this.byte(`${what} length`);
    this.byte(`${what} type`);
    this.take(Math.ceil(semiOctets / 2), what);
  }
}

function normalize(hex: unknown): string {
  if (typeof hex !== 'string') throw new PduError('not-hex', 'PDU is not a string', String(hex).slice(0, 80));
  const pdu = hex.replace(/\s+/g, '').toUpperCase();
  if (pdu.length > MAX_PDU_HEX) throw new PduError('too-long', `PDU of ${pdu.length / 2} octets is longer than any SMS`, pdu.slice(0, 80));
  if (pdu === '' || pdu.length % 2 !== 0 || !/^[0-9A-F]+$/.test(pdu)) {
    throw new PduError('not-hex', 'PDU is not an even number of hex digits', pdu.slice(0, 80));
  }
  return pdu;
}

function walk<T>(pdu: string, read: (r: Reader) => T): T {
  return read(new Reader(Buffer.from(pdu, 'hex'), pdu.slice(0, 80)));
}

function expectType(firstOctet: number, mti: number, name: string, pdu: string): void {
  if ((firstOctet & 3) !== mti) {
    throw new PduError('wrong-type', `not an ${name} (TP-MTI ${firstOctet & 3})`, pdu.slice(0, 80));
  }
}

/** node-pdu's parse, its errors (and a result of another type) turned into PduError. */
function parseAs<T>(pdu: string, type: new (...args: never[]) => T, name: string): T {
  const parsed = wrapped(pdu, () => parse(pdu) as unknown);
  if (!(parsed instanceof type)) throw new PduError('wrong-type', `not an ${name}`, pdu.slice(0, 80));
  return parsed;
}

function wrapped<T>(pdu: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof PduError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new PduError('malformed', `PDU not decodable: ${message}`, pdu.slice(0, 80));
  }
}

// ---- fields ----

type LibAddress = Report['address'];

function addressType(address: LibAddress): AddressType {
  return ADDRESS_TYPES[address.type.type & 7];
}

/** `+` and digits for an international number, the text of an alphanumeric one, else the digits. */
function addressText(address: LibAddress): string {
  const phone = (address.phone ?? '').trim();
  if (address.type.type === SCAType.TYPE_INTERNATIONAL && phone !== '' && !phone.startsWith('+')) return `+${phone}`;
  return phone;
}

function smscText(sca: LibAddress): string | null {
  const text = addressText(sca);
  return text === '' ? null : text;
}

function encodingOf(alphabet: number, pdu: string): TextEncoding {
  if (alphabet === DCS.ALPHABET_DEFAULT) return 'GSM-7';
  if (alphabet === DCS.ALPHABET_8BIT) return '8-bit';
  if (alphabet === DCS.ALPHABET_UCS2) return 'UCS-2';
  throw new PduError('malformed', `reserved alphabet in TP-DCS (${alphabet})`, pdu.slice(0, 80));
}

/** TP-UDL counts septets for GSM-7, octets otherwise: the PDU must hold that much user data. */
function checkUserData(udl: number, available: number, encoding: TextEncoding, pdu: string): void {
  const needed = encoding === 'GSM-7' ? Math.ceil((udl * 7) / 8) : udl;
  if (needed > available) {
    throw new PduError('truncated', `user data of ${needed} octets announced, ${available} present`, pdu.slice(0, 80));
  }
}

function concatOf(parts: readonly utils.Part[]): ConcatInfo | null {
  const header = parts[0]?.header ?? null;
  if (header === null || header.getType() === undefined) return null;
  return { reference: header.getPointer() ?? 0, part: header.getCurrent() ?? 1, total: header.getSegments() ?? 1 };
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
function timestamp(octets: Uint8Array, seconds: number): PduTimestamp | null {
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
