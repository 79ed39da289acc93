/** `key:value;key:value` parsing shared by keepalives, reports and the GSM reply. */

export type Fields = Record<string, string>;

/** Values devices send for "nothing". */
const EMPTY_VALUES = new Set(['(null)', '<NULL>', '(NULL)', '<null>']);

export function cleanValue(value: string): string {
  return EMPTY_VALUES.has(value) ? '' : value;
}

export interface SplitOptions {
  /** Keys whose value runs to the end of the datagram (it may hold `;`, `:` and newlines). */
  tailKeys?: ReadonlySet<string>;
}

export interface SplitResult {
  fields: Fields;
  /** Segments without a `:` in the order they came (the specification's positional CELLS form uses them: docs/protocol.md#cell-reports). */
  positional: string[];
}

/**
 * Splits `body` (the text after the leading `VERB:id;`) into fields. Each field splits on its first
 * `:` only, so values keep `:` and `,`. The first occurrence of a key wins: a later duplicate can
 * neither replace the id nor the password that were authenticated.
 */
export function splitFields(body: string, options: SplitOptions = {}): SplitResult {
  const fields: Fields = Object.create(null) as Fields;
  const positional: string[] = [];
  const tailKeys = options.tailKeys;
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(';', start);
    if (end === -1) end = body.length;
    const segment = body.slice(start, end);
    const colon = segment.indexOf(':');
    if (colon === -1) {
      if (segment.trim() !== '') positional.push(segment);
    } else {
      const key = segment.slice(0, colon).trim();
      if (tailKeys !== undefined && tailKeys.has(key)) {
        if (!(key in fields)) fields[key] = body.slice(start + colon + 1);
        break;
      }
      if (key !== '' && !(key in fields)) fields[key] = cleanValue(segment.slice(colon + 1));
    }
    start = end + 1;
  }
  return { fields, positional };
}
