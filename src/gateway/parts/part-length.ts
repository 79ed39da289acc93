/**
 * How a received text relates to the parts of a concatenated SMS, as firmware that does not join
 * parts hands them over. A part's user data loses room to the concatenation header: 153 GSM 03.38
 * septets (8-bit reference; 152 with a 16-bit one, or when an escape pair would be cut) or 67
 * UCS-2 units (66). Counted with the segment library, escapes as two septets. Pure.
 */
import { SegmentedMessage } from 'sms-segments-calculator';

/**
 * `full`: exactly one full part (it may have a continuation); `short`: shorter, so it can only be
 * the last part of a message or a message of its own; `whole`: longer than a part, a message of its own.
 */
export type PartKind = 'full' | 'short' | 'whole';

const GSM_PART_SEPTETS = { min: 152, max: 153 };
const UCS2_PART_UNITS = { min: 66, max: 67 };
const SEPTET_BITS = 7;
const UCS2_UNIT_BITS = 16;

export function partKind(text: string): PartKind {
  const message = new SegmentedMessage(text);
  if (message.segmentsCount !== 1) return 'whole';
  const { min, max } = message.encodingName === 'GSM-7' ? GSM_PART_SEPTETS : UCS2_PART_UNITS;
  const size = message.messageSize / (message.encodingName === 'GSM-7' ? SEPTET_BITS : UCS2_UNIT_BITS);
  if (size > max) return 'whole';
  return size >= min ? 'full' : 'short';
}

export function isFullPart(text: string): boolean {
  return partKind(text) === 'full';
}
