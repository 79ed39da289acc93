import assert from 'node:assert/strict';
import { bulkOptions, ConfigError } from '../src/nodes/config-options';

describe('config options: sending', () => {
  it('maps the editor fields to engine options, leaving empty ones to the defaults', () => {
    assert.deepEqual(bulkOptions({}), {});
    assert.deepEqual(bulkOptions({ sendInterval: '', dailyLimit: '', sessionsPerLine: '', stepTimeout: '', earlyReask: true }), {});
    assert.deepEqual(bulkOptions({ sendInterval: '2', dailyLimit: 300, sessionsPerLine: '3', stepTimeout: 0.5 }), {
      minIntervalMs: 2000,
      dailyLimit: 300,
      sessionsPerLine: 3,
      stepTimeoutMs: 500,
    });
  });

  it('turns the overdue re-ask off when earlyReask is unticked (flows from before it existed keep it on)', () => {
    assert.deepEqual(bulkOptions({ earlyReask: false }), { overdueFactor: 0 });
    assert.deepEqual(bulkOptions({ earlyReask: 'false' }), { overdueFactor: 0 });
    assert.equal(bulkOptions({ earlyReask: undefined }).overdueFactor, undefined);
  });

  it('refuses values out of range with the field named', () => {
    assert.throws(() => bulkOptions({ sessionsPerLine: 6 }), (err: Error) => err instanceof ConfigError && /sessions per line "6"/.test(err.message));
    assert.throws(() => bulkOptions({ stepTimeout: '0.01' }), /below the minimum of 0.05 s/);
  });
});
