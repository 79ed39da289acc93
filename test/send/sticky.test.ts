import assert from 'node:assert/strict';
import { composeBatch } from '../../src/send/compose';
import { checkGroups, GroupRouter, stickyRule } from '../../src/send/routing';

const DAY = 86_400_000;
const LINES = new Set(['goip01', 'goip02']);

describe('send: sticky lines', () => {
  it('reads sticky and stickyDays (off and 30 days by default) with clear errors', () => {
    assert.deepEqual(stickyRule(undefined, ''), { sticky: false, stickyDays: 30 });
    assert.deepEqual(stickyRule('true', '7'), { sticky: true, stickyDays: 7 });
    assert.throws(() => stickyRule('yes', 1), /sticky must be true or false/);
    assert.throws(() => stickyRule(true, 400), /stickyDays must be a whole number of days from 1 to 365/);
  });

  it('a group’s own keys win over goip-send’s for its numbers', () => {
    const groups = checkGroups([{ name: 'cn', lines: ['goip01'], prefixes: ['86'], sticky: true, stickyDays: 2 }, { name: 'ua', lines: ['goip02'], prefixes: ['380'] }], LINES);
    const router = new GroupRouter(groups);
    const rule = { country: '', format: 'e164' as const };
    const to = ['+8613800138000', '+380501234567'];
    assert.deepEqual(composeBatch({ text: 'x', to, line: null }, rule, LINES, router).stickyMs, [2 * DAY, null]);
    assert.deepEqual(composeBatch({ text: 'x', to, line: null, sticky: true }, rule, LINES, router).stickyMs, [2 * DAY, 30 * DAY]);
    assert.equal(composeBatch({ text: 'x', to: ['+380501234567'], line: null }, rule, LINES, router).stickyMs, undefined);
    assert.throws(() => checkGroups([{ name: 'g', lines: ['goip01'], sticky: 'maybe' }], LINES), /group "g": sticky must be true or false/);
  });
});
