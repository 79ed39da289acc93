import assert from 'node:assert/strict';
import { SegmentedMessage } from 'sms-segments-calculator';
import { guardText, measureText, textRules } from '../../src/send/encoding';
import { InputError } from '../../src/send/numbers';

const rules = (encoding: 'auto' | 'gsm7' | 'transliterate', maxParts = 0) => ({ encoding, maxParts });
const failsWith = (code: string, message: RegExp) => (err: unknown) => err instanceof InputError && err.code === code && message.test(err.message);

describe('send: the encoding guard', () => {
  it('auto lets a text go as UCS-2, unchanged', () => {
    assert.deepEqual(guardText('Hello ’world’', rules('auto')), { text: 'Hello ’world’', measured: { bytes: 17, segments: 1, encoding: 'UCS-2' } });
  });

  it('gsm7 refuses a character GSM-7 and its extension table lack, naming each once', () => {
    assert.throws(() => guardText('Hello ’world’', rules('gsm7')), failsWith('NOT_GSM7', /"’" \(U\+2019\)$|"’" \(U\+2019\);/));
    assert.throws(() => guardText('Hi 😀 “x”', rules('gsm7')), failsWith('NOT_GSM7', /"😀" \(U\+1F600\), "“" \(U\+201C\), "”" \(U\+201D\)/));
    assert.deepEqual(guardText('Grüße é £ € [x] {y} ~ ^', rules('gsm7')).measured.encoding, 'GSM-7');
  });

  it('transliterate replaces only what GSM-7 lacks; é, ü, £ and € stay', () => {
    assert.deepEqual(guardText('Hello ’world’', rules('transliterate')), { text: "Hello 'world'", measured: { bytes: 13, segments: 1, encoding: 'GSM-7' } });
    assert.equal(guardText('Grüße, café, £5, €5', rules('transliterate')).text, 'Grüße, café, £5, €5');
    assert.equal(guardText('a—b… “c” Жук 😀\tend', rules('transliterate')).text, 'a--b... "c" Zhuk ??end');
  });

  it('maxParts refuses a text over it, after the transliteration', () => {
    assert.throws(() => guardText('a'.repeat(161), rules('auto', 1)), failsWith('TOO_LONG', /needs 2 SMS parts \(GSM-7\); maxParts allows 1/));
    assert.equal(guardText('a'.repeat(160), rules('auto', 1)).measured.segments, 1);
    assert.equal(guardText('’'.repeat(100), rules('transliterate', 1)).measured.segments, 1);
    assert.throws(() => guardText('’'.repeat(100), rules('auto', 1)), failsWith('TOO_LONG', /UCS-2/));
  });

  it('reads the modes and maxParts, with clear errors', () => {
    assert.deepEqual(textRules(undefined, undefined), { encoding: 'auto', maxParts: 0 });
    assert.deepEqual(textRules(' GSM7 ', '3'), { encoding: 'gsm7', maxParts: 3 });
    assert.deepEqual(textRules('', ''), { encoding: 'auto', maxParts: 0 });
    assert.throws(() => textRules('ascii', 0), /encoding must be auto, gsm7, transliterate, got "ascii"/);
    assert.throws(() => textRules('auto', -1), /maxParts must be a whole number from 0/);
    assert.throws(() => textRules('auto', 1.5), /maxParts/);
  });
});

describe('send: measuring a text', () => {
  it('counts as the segment library does, also where it skips it for a text of one part', () => {
    const pool = ['a', 'Z', ' ', '1', '\n', '\r\n', '\r', '€', '[', '~', '^', '\f', 'é', 'Ä', 'ß', 'ë', '’', '你', '😀', '\u001b', 'Ж'];
    let seed = 7;
    const next = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n);
    for (let i = 0; i < 2_000; i++) {
      const length = next(200);
      const mostly = pool[next(pool.length)];
      const text = Array.from({ length }, () => (next(10) === 0 ? pool[next(pool.length)] : mostly)).join('');
      const library = new SegmentedMessage(text);
      assert.deepEqual(
        measureText(text),
        { bytes: Buffer.byteLength(text), segments: library.segmentsCount, encoding: library.encodingName === 'GSM-7' ? 'GSM-7' : 'UCS-2' },
        JSON.stringify(text),
      );
    }
  });
});
