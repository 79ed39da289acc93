/** The balance and SIM-number checks' settings, schedules and USSD readers (pure). */
import assert from 'node:assert/strict';
import { checkSettings, nextCheckAt, parseSchedule, readAmount, readNumber } from '../../src/gateway/check-settings';
import { FakeTime } from '../helpers/fake-time';

describe('check settings', () => {
  it('reads balances and numbers from USSD answers and plans checks every N minutes or by cron', () => {
    assert.equal(readAmount('Your balance is 12.34', ''), 12.34);
    assert.equal(readAmount('Balance: 5,50 UAH, valid to 2025-01-01', ''), 5.5);
    assert.equal(readAmount('Bonus 3, main 40.1', String.raw`main (\d+\.\d+)`), 40.1);
    assert.equal(readAmount('no money here', ''), null);
    assert.equal(readNumber('Your number is +8613800138000.', ''), '+8613800138000');
    assert.equal(nextCheckAt(parseSchedule('30'), null, 1000), 1000);
    assert.equal(nextCheckAt(parseSchedule('30'), 1000, 2000), 1000 + 30 * 60_000);
    const time = new FakeTime();
    try {
      time.clock.setSystemTime(new Date(2024, 4, 1, 8, 59, 0).getTime());
      const next = nextCheckAt(parseSchedule('0 9 * * *'), null, Date.now());
      assert.equal(next, new Date(2024, 4, 1, 9, 0, 0).getTime());
    } finally {
      time.clock.restore();
    }
    assert.throws(() => checkSettings({ balanceEvery: 'every tuesday' }), /neither minutes nor a cron/);
    assert.throws(() => checkSettings({ balancePattern: '(' }), /not a regular expression/);
    assert.deepEqual(checkSettings({ lowBalance: '5' }, checkSettings({ balanceUssd: '*100#', parkOnLowBalance: true })).lowBalance, 5);
  });
});
