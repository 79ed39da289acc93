import assert from 'node:assert/strict';
import { composeBatch, InputError, type PersonalText } from '../../src/send/compose';
import { missingVars, Template } from '../../src/send/template';

const CN = { country: 'CN', format: 'e164' as const };
const LINES = new Set(['goip01']);
const texts = (personal: PersonalText[] | undefined) => personal?.map((p) => ('error' in p ? p.error : p.text));

describe('send: personalised batches', () => {
  it('renders each recipient its own text, without HTML escaping', () => {
    const batch = composeBatch(
      { text: 'Hello {{name}}, code {{code}} <{{number}}>', to: [{ number: '13800138000', vars: { name: 'A&B', code: 1 } }, { number: '13900139000', vars: { name: 'Ö', code: 2 } }], line: null },
      CN,
      LINES,
    );
    assert.deepEqual(batch.numbers, ['+8613800138000', '+8613900139000']);
    assert.deepEqual(texts(batch.personal), ['Hello A&B, code 1 <13800138000>', 'Hello Ö, code 2 <13900139000>']);
  });

  it('fails a recipient that lacks a variable alone, unless missing is empty', () => {
    const to = [{ number: '13800138000', vars: { name: 'A', code: 1 } }, { number: '13900139000', vars: { name: 'B' } }, { number: '13700137000', vars: { name: 'C', code: null } }];
    const request = { text: 'Hi {{name}}, {{code}}{{#vip}} {{level}}{{/vip}}', to, line: null };
    assert.deepEqual(texts(composeBatch(request, CN, LINES).personal), ['Hi A, 1', 'TEMPLATE_VAR: no value for {{code}}', 'TEMPLATE_VAR: no value for {{code}}']);
    assert.deepEqual(texts(composeBatch({ ...request, missing: 'empty' }, CN, LINES).personal), ['Hi A, 1', 'Hi B, ', 'Hi C, ']);
    assert.throws(() => missingVars('skip'), /"fail" or "empty"/);
  });

  it('applies the encoding guard and maxParts to each rendered text', () => {
    const to = [{ number: '13800138000', vars: { name: 'Zoë' } }, { number: '13900139000', vars: { name: '’Jo’' } }, { number: '13700137000', vars: { name: 'x'.repeat(200) } }];
    const gsm7 = composeBatch({ text: 'Hi {{name}}', to, line: null, encoding: 'gsm7', maxParts: 1 }, CN, LINES);
    assert.match(texts(gsm7.personal)![1], /^NOT_GSM7: .*"’"/);
    assert.match(texts(gsm7.personal)![2], /^TOO_LONG: the text needs 2 SMS parts/);
    const transliterated = composeBatch({ text: 'Hi {{name}}', to, line: null, encoding: 'transliterate' }, CN, LINES);
    assert.deepEqual(texts(transliterated.personal)?.slice(0, 2), ['Hi Zoe', "Hi 'Jo'"], 'ë is not GSM-7 (ä, ö and ü are)');
    assert.deepEqual(transliterated.personal?.map((p) => ('segments' in p ? p.segments : 0)), [1, 1, 2]);
    assert.throws(() => composeBatch({ text: '’{{name}}', to, line: null, encoding: 'gsm7' }, CN, LINES), (e: unknown) => e instanceof InputError && e.code === 'NOT_GSM7');
  });

  it('keeps plain texts literal and the first of duplicate numbers', () => {
    assert.equal(composeBatch({ text: 'Hi {{name}}', to: ['13800138000'], line: null }, CN, LINES).personal, undefined);
    const batch = composeBatch({ text: '{{n}}', to: [{ number: '13800138000', vars: { n: 'one' } }, '13900139000', { number: '+86 138 0013 8000', vars: { n: 'two' } }], line: null, missing: 'empty' }, CN, LINES);
    assert.deepEqual(batch.numbers, ['+8613800138000', '+8613900139000']);
    assert.deepEqual(texts(batch.personal), ['one', 'TEMPLATE_VAR: the text renders empty']);
  });

  it('refuses bad entries and bad templates for the whole input', () => {
    assert.throws(() => composeBatch({ text: 'x', to: [{ vars: {} }], line: null }, CN, LINES), /to\[0\] has no number/);
    assert.throws(() => composeBatch({ text: 'x', to: [{ number: '13800138000', vars: [1] }], line: null }, CN, LINES), /vars must be an object/);
    assert.throws(() => composeBatch({ text: 'Hi {{name', to: [{ number: '13800138000' }], line: null }, CN, LINES), /not a valid template/);
    assert.deepEqual(new Template('a {{b.c}} {{{d}}} {{^e}}{{f}}{{/e}}').required, ['b.c', 'd', 'f']);
  });
});
