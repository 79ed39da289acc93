import assert from 'node:assert/strict';
import { checkRule, composeBatch, InputError, measureText, normalizeNumber, parseRecipients } from '../../src/send/compose';

const CN = { country: 'CN', format: 'e164' as const };
const LINES = new Set(['goip01', 'goip02']);

describe('send: composing a batch', () => {
  it('normalises numbers by the configured rule', () => {
    assert.equal(normalizeNumber('13800138000', CN), '+8613800138000');
    assert.equal(normalizeNumber('+86 138-0013-8000', CN), '+8613800138000');
    assert.equal(normalizeNumber('13800138000', { country: 'CN', format: 'digits' }), '8613800138000');
    assert.equal(normalizeNumber('+8613800138000', { country: 'CN', format: 'national' }), '13800138000');
    assert.equal(normalizeNumber('+380501234567', { country: '', format: 'national' }), '0501234567');
    assert.equal(normalizeNumber(' +44 7911 123456 ', { country: '', format: 'asis' }), '+44 7911 123456');
    assert.equal(normalizeNumber('10086', CN), '10086', 'short codes pass as they are');
  });

  it('rejects malformed numbers with the number in the reason', () => {
    assert.throws(() => normalizeNumber('abc', CN), (e: Error) => e instanceof InputError && /"abc" is not a phone number/.test(e.message));
    assert.throws(() => normalizeNumber('13800138000', { country: '', format: 'e164' }), /no country code and no default country/);
    assert.throws(() => normalizeNumber('+86138', CN), /not a possible phone number/);
    assert.throws(() => normalizeNumber('  ', CN), /empty recipient/);
  });

  it('checks the rule itself', () => {
    assert.deepEqual(checkRule({ country: 'cn', format: 'e164' }), { country: 'CN', format: 'e164' });
    assert.throws(() => checkRule({ country: 'XX', format: 'e164' }), /unknown country code/);
    assert.throws(() => checkRule({ country: '', format: 'nope' as 'e164' }), /unknown number format/);
  });

  it('reads recipients from arrays and comma, semicolon or newline lists', () => {
    assert.deepEqual(parseRecipients('1, 2;3\n4'), ['1', '2', '3', '4']);
    assert.deepEqual(parseRecipients([' 1 ', 2, '', null]), ['1', '2']);
    assert.deepEqual(parseRecipients(13800138000), ['13800138000']);
    assert.deepEqual(parseRecipients(undefined), []);
  });

  it('measures encoding and segments with the library', () => {
    assert.deepEqual(measureText('hello'), { bytes: 5, segments: 1, encoding: 'GSM-7' });
    assert.deepEqual(measureText('a'.repeat(160)), { bytes: 160, segments: 1, encoding: 'GSM-7' });
    assert.deepEqual(measureText('a'.repeat(161)), { bytes: 161, segments: 2, encoding: 'GSM-7' });
    assert.deepEqual(measureText('你好'), { bytes: 6, segments: 1, encoding: 'UCS-2' });
    assert.equal(measureText('你'.repeat(71)).segments, 2);
    assert.equal(measureText('😀').encoding, 'UCS-2');
  });

  it('composes a valid batch, removing duplicate recipients', () => {
    const batch = composeBatch({ text: 'Hi 你好', to: '13800138000, +8613800138000, 13900139000', line: 'goip02' }, CN, LINES);
    assert.deepEqual(batch.numbers, ['+8613800138000', '+8613900139000']);
    assert.equal(batch.line, 'goip02');
    assert.equal(batch.encoding, 'UCS-2');
    assert.equal(batch.bytes, 9);
    assert.equal(composeBatch({ text: 'x', to: ['10086'], line: '' }, CN, LINES).line, null);
  });

  it('refuses bad input with a clear reason', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ text: '', to: '10086' }, /text is empty/],
      [{ text: '   ', to: '10086' }, /text is empty/],
      [{ text: undefined, to: '10086' }, /no text/],
      [{ text: { a: 1 }, to: '10086' }, /no text/],
      [{ text: '你'.repeat(1001), to: '10086' }, /3003 UTF-8 bytes; GoIP takes at most 3000/],
      [{ text: 'x', to: [] }, /no recipients/],
      [{ text: 'x', to: '' }, /no recipients/],
      [{ text: 'x', to: '10086,abc' }, /"abc" is not a phone number/],
      [{ text: 'x', to: '10086', line: 'goip09' }, /unknown line "goip09"/],
    ];
    for (const [request, reason] of cases) {
      assert.throws(() => composeBatch({ line: null, ...request } as never, CN, LINES), reason, JSON.stringify(request).slice(0, 60));
    }
    assert.equal(composeBatch({ text: '你'.repeat(1000), to: '10086', line: null }, CN, LINES).bytes, 3000, '3000 bytes exactly is fine');
  });
});
