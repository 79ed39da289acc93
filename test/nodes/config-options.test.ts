import assert from 'node:assert/strict';
import { bulkOptions, commandOptions, ConfigError, parseDevices, receiveOptions, serverOptions, sharedStoreSettings } from '../../src/nodes/config-options';
import { translator } from '../helpers/catalog';

const english = translator('goip-config');

/** The English text goip-config shows for a refused value (ConfigError carries a catalog key). */
function refusal(err: unknown): string {
  assert.ok(err instanceof ConfigError);
  return english(err.key, err.substitutions);
}

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
    assert.throws(() => bulkOptions({ sessionsPerLine: 6 }), (err: Error) => /sessions per line "6"/.test(refusal(err)));
    assert.throws(() => bulkOptions({ stepTimeout: '0.01' }), (err: Error) => /below the minimum of 0.05 s/.test(refusal(err)));
  });
});

describe('config options: refusals', () => {
  const cases: Array<[() => unknown, string]> = [
    [() => parseDevices('['), 'the lines list (devices credential) is not valid JSON'],
    [() => parseDevices('{}'), 'the lines list (devices credential) must be a JSON array'],
    [() => parseDevices('[{"password":"x"}]'), 'line #1 has no id'],
    [() => parseDevices('[{"id":"a;b","password":"x"}]'), `line id "a;b" contains a space or ';'`],
    [() => parseDevices('[{"id":"a","password":"x"},{"id":"a","password":"y"}]'), 'line id "a" is listed twice'],
    [() => parseDevices('[{"id":"a"}]'), 'line "a" has no password'],
    [() => serverOptions({ port: '70000' }, []), 'port "70000" is not a UDP port (0-65535)'],
    [() => serverOptions({ ackStatus: 'ok' }, []), 'keepalive ok-code "ok" must be a number'],
    [() => serverOptions({ offlineAfter: '0.01' }, []), 'timing value 0.01 s is below the minimum of 0.05 s'],
    [() => bulkOptions({ dailyLimit: -1 }), 'daily limit per line "-1" must be a whole number from 0 to 1000000'],
    [() => bulkOptions({ sessionsPerLine: '0' }), 'sessions per line "0" must be a whole number from 1 to 5'],
    [() => commandOptions({ commandRetries: 11 }), 'command retries "11" must be a whole number from 0 to 10'],
    [() => commandOptions({ ussdRetries: 'x' }), 'USSD retries "x" must be a whole number from 0 to 10'],
  ];

  it('names the refused value in the English text goip-config shows', () => {
    for (const [refused, text] of cases) assert.throws(refused, (err: Error) => refusal(err) === text, text);
  });
});

describe('config options: receiving', () => {
  it('joins parts by default with a 60 s window; flows from before it existed get the same', () => {
    assert.deepEqual(receiveOptions({}), { joinParts: true, joinWindowMs: 60_000 });
    assert.deepEqual(receiveOptions({ joinParts: '', joinWindow: '' }), { joinParts: true, joinWindowMs: 60_000 });
    assert.deepEqual(receiveOptions({ joinParts: false, joinWindow: '2.5' }), { joinParts: false, joinWindowMs: 2500 });
    assert.deepEqual(receiveOptions({ joinParts: 'false', joinWindow: 30 }), { joinParts: false, joinWindowMs: 30_000 });
  });

  it('refuses a window out of range with the field named', () => {
    assert.throws(() => receiveOptions({ joinWindow: 3601 }), (err: Error) => refusal(err) === 'join window 3601 s is longer than the maximum of 3600 s');
    assert.throws(() => receiveOptions({ joinWindow: '0.01' }), (err: Error) => /below the minimum of 0.05 s/.test(refusal(err)));
  });
});

describe('config options: the store', () => {
  it('keeps the SQLite file by default and for sqlite', () => {
    assert.equal(sharedStoreSettings({}, undefined, 'host1'), null);
    assert.equal(sharedStoreSettings({ database: 'sqlite', schema: 'x' }, 'postgres://u:p@h/db', 'host1'), null);
  });

  it('reads the shared store: the host name as the instance, schema goip and a 30 s lease by default, the credential as is', () => {
    assert.deepEqual(sharedStoreSettings({ database: 'postgres' }, undefined, 'host1'), { instance: 'host1', schema: 'goip', leaseMs: 30_000, connectionString: '' });
    assert.deepEqual(sharedStoreSettings({ database: 'postgres', instance: ' site-b ', schema: 'sms_2', leaseSeconds: '10' }, ' postgres://u:p@h/db ', 'host1'), {
      instance: 'site-b',
      schema: 'sms_2',
      leaseMs: 10_000,
      connectionString: 'postgres://u:p@h/db',
    });
  });

  it('refuses an unknown database, a schema that is no plain SQL name and a lease out of range, never naming the password', () => {
    const secret = 'postgres://u:s3cret@h/db';
    assert.throws(() => sharedStoreSettings({ database: 'mysql' }, secret, 'h'), (err: Error) => refusal(err) === 'unknown database "mysql" (sqlite, postgres)');
    assert.throws(() => sharedStoreSettings({ database: 'postgres', schema: 'Goip; DROP' }, secret, 'h'), (err: Error) => /plain lower-case SQL name/.test(refusal(err)));
    for (const leaseSeconds of ['2', '3601', 'soon']) {
      assert.throws(() => sharedStoreSettings({ database: 'postgres', leaseSeconds }, secret, 'h'), (err: Error) => /from 3 to 3600/.test(refusal(err)) && !refusal(err).includes('s3cret'));
    }
  });
});
