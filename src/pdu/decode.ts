/**
 * A thin adapter over node-pdu for the three TPDUs the AT stream carries (GSM 03.40 / 3GPP TS
 * 23.040): SMS-STATUS-REPORT after `+CDS: <len>`, SMS-DELIVER after `+CMT: ,<len>`, SMS-SUBMIT
 * written after `AT+CMGS=<len>`. Each PDU starts with its SMSC octet(s) (`00` = none), as modules
 * print and take them.
 *
 * node-pdu does the decoding; this module walks the octet layout first (./octets.ts) so that short
 * or foreign input fails with a PduError, and turns node-pdu's objects into plain data (time stamps:
 * ./timestamps.ts). Nothing here throws anything but PduError.
 */
import { Deliver, parse, Report, Submit, utils } from 'node-pdu';
import { expectType, normalize, PduError, walk } from './octets';
import { type PduTimestamp, timestamp } from './timestamps';

export type AddressType = 'unknown' | 'international' | 'national' | 'network' | 'subscriber' | 'alphanumeric' | 'abbreviated' | 'reserved';

const ADDRESS_TYPES: readonly AddressType[] = ['unknown', 'international', 'national', 'network', 'subscriber', 'alphanumeric', 'abbreviated', 'reserved'];

export type TextEncoding = 'GSM-7' | '8-bit' | 'UCS-2';

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

