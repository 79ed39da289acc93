/**
 * How a received text relates to the parts of a concatenated SMS, as firmware that does not join
 * parts hands them over. A part's user data loses room to the concatenation header: 153 GSM 03.38
 * septets (8-bit reference; 152 with a 16-bit one, or when an escape pair would be cut) or 67
 * UCS-2 units (66). Counted with the segment library, escapes as two septets, but only for texts
whose length allows a full part: the library splits graphemes and costs tens of microseconds per
text, which every received SMS would pay. Pure.
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

/**
 * A GSM character is one or two septets and a UCS-2 unit one UTF-16 unit, so a full part has 76 to
 * 153 UTF-16 units (GSM) or 66 to 67 (UCS-2): outside 66..153 the length alone decides.
 */
const FULL_PART_LENGTH = { min: UCS2_PART_UNITS.min, max: GSM_PART_SEPTETS.max };

export function partKind(text: string): PartKind {
  if (text.length < FULL_PART_LENGTH.min) return 'short';
  if (text.length > FULL_PART_LENGTH.max) return 'whole';
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
