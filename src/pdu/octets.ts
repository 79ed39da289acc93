/**
 * The octet layout of a TPDU, walked before node-pdu sees it: short or foreign input fails here
 * with a PduError (node-pdu happily "decodes" a truncated report into NaN fields).
 */

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

/** SMSC octet + the longest TPDU (SMS-SUBMIT with absolute VP and 140 octets of UD), with room to spare. */
const MAX_PDU_HEX = 2 * 200;

/** Reads a TPDU's fields in order; running out of octets is a PduError ('truncated'). */
export class Reader {
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

/** `hex` as upper-case hex without white space; a PduError when it cannot be a PDU. */
export function normalize(hex: unknown): string {
  if (typeof hex !== 'string') throw new PduError('not-hex', 'PDU is not a string', String(hex).slice(0, 80));
  const pdu = hex.replace(/\s+/g, '').toUpperCase();
  if (pdu.length > MAX_PDU_HEX) throw new PduError('too-long', `PDU of ${pdu.length / 2} octets is longer than any SMS`, pdu.slice(0, 80));
  if (pdu === '' || pdu.length % 2 !== 0 || !/^[0-9A-F]+$/.test(pdu)) {
    throw new PduError('not-hex', 'PDU is not an even number of hex digits', pdu.slice(0, 80));
  }
  return pdu;
}

/** Runs `read` over the octets of the normalized `pdu`. */
export function walk<T>(pdu: string, read: (r: Reader) => T): T {
  return read(new Reader(Buffer.from(pdu, 'hex'), pdu.slice(0, 80)));
}

/** The first octet's TP-MTI is `mti` (a PduError names the type expected otherwise). */
export function expectType(firstOctet: number, mti: number, name: string, pdu: string): void {
  if ((firstOctet & 3) !== mti) {
    throw new PduError('wrong-type', `not an ${name} (TP-MTI ${firstOctet & 3})`, pdu.slice(0, 80));
  }
}
