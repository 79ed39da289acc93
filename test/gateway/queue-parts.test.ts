/**
 * The pure parts of the operator's queue: the goip-send queue fields,
 * the goip-config Queue tab, the opt-out keywords; and quiet hours and retention in a gateway.
 */
import assert from 'node:assert/strict';
import { GoipGateway } from '../../src/gateway';
import { OptOutKeywords } from '../../src/gateway/queue-opt-out';
import { RetentionSchedule } from '../../src/gateway/queue-retention';
import type { Recipient } from '../../src/outbox/types';
import { ConfigError, queueOptions, quietHoursOptions } from '../../src/nodes/config-options';
import { composeQueueFields } from '../../src/send/compose';
import { Ledger, SimLine } from '../../src/sim';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { asynchronousOf } from '../../src/outbox/store-ports';

const NOW = Date.UTC(2025, 0, 31, 9, 0, 0);
const fields = (extra: Record<string, unknown>) => composeQueueFields({ priority: undefined, sendAt: undefined, validity: undefined, expiresAt: undefined, batchId: undefined, ...extra }, NOW);

describe('queue parts', () => {
  it('reads msg.priority, sendAt, validity / expiresAt and batchId, refusing what is not one', () => {
    assert.deepEqual(fields({}), { priority: 'normal', sendAt: null, expiresAt: null, batchId: null });
    assert.deepEqual(fields({ priority: ' HIGH ', sendAt: new Date(NOW + 1000), validity: '60', batchId: 7 }), { priority: 'high', sendAt: NOW + 1000, expiresAt: NOW + 60_000, batchId: '7' });
    assert.equal(fields({ sendAt: '2025-01-31T10:00:00+01:00' }).sendAt, NOW);
    assert.equal(fields({ sendAt: NOW + 5 }).sendAt, NOW + 5);
    assert.equal(fields({ expiresAt: '2025-01-31T09:00:01Z' }).expiresAt, NOW + 1000);
    for (const [extra, reason] of [
      [{ priority: 'urgent' }, /msg.priority must be high, normal, low/],
      [{ sendAt: 'soon' }, /msg.sendAt must be a Date/],
      [{ sendAt: new Date('x') }, /msg.sendAt/],
      [{ sendAt: {} }, /msg.sendAt/],
      [{ validity: 0 }, /msg.validity must be a number of seconds above 0/],
      [{ validity: 'ten' }, /msg.validity/],
      [{ validity: 5, expiresAt: NOW + 1 }, /not both/],
      [{ expiresAt: NOW }, /has already passed/],
      [{ sendAt: NOW + 10_000, validity: 5 }, /expire before msg.sendAt/],
      [{ batchId: { id: 1 } }, /msg.batchId must be a string/],
      [{ batchId: 'x'.repeat(201) }, /1 to 200 characters/],
    ] as const) {
      assert.throws(() => fields(extra), reason, JSON.stringify(extra));
    }
  });

  it('reads the Queue tab of goip-config: keywords, retention, quiet hours', () => {
    assert.deepEqual(queueOptions({}), {});
    assert.deepEqual(queueOptions({ optOut: 'STOP, 退订，TD', optIn: '', retention: '0.5' }), { optOut: ['STOP', '退订', 'TD'], optIn: [], retentionMs: 43_200_000 });
    assert.throws(() => queueOptions({ retention: '-1' }), (err: ConfigError) => err.key === 'goip-config.errors.retention');
    assert.throws(() => queueOptions({ retention: 'month' }), ConfigError);
    assert.deepEqual(quietHoursOptions({ quietHours: '21:00-08:00' }), { quietFromMinute: 1260, quietMinutes: 660 });
    assert.throws(() => quietHoursOptions({ quietHours: '9pm' }), (err: ConfigError) => err.key === 'goip-config.errors.quietHours');
  });

  it('matches a whole SMS text against the keywords, trimmed and in any case', () => {
    const keywords = new OptOutKeywords(['STOP', '退订', 'td'], ['Start']);
    assert.deepEqual(keywords.match(' stop\n'), { event: 'optout', keyword: 'STOP' });
    assert.deepEqual(keywords.match('TD'), { event: 'optout', keyword: 'td' });
    assert.deepEqual(keywords.match('退订'), { event: 'optout', keyword: '退订' });
    assert.deepEqual(keywords.match('START'), { event: 'optin', keyword: 'Start' });
    assert.equal(keywords.match('please stop'), null);
    assert.equal(keywords.match(''), null);
  });

  describe('in a gateway', () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('starts only high priority inside quiet hours; the normal batch waits', async () => {
      const minute = new Date().getHours() * 60 + new Date().getMinutes();
      const outbox = new MemoryOutbox();
      const gateway = new GoipGateway({
        server: { bind: '127.0.0.1', port: 0, devices: [{ id: 'goip01', password: 'pw' }] },
        store: outbox,
        sending: { stepTimeoutMs: 200, quietFromMinute: (minute + 1439) % 1440, quietMinutes: 120 },
      });
      cleanups.push(() => gateway.stop());
      const port = (await gateway.start())?.port ?? assert.fail('not listening');
      const ledger = new Ledger();
      const line = new SimLine({ id: 'goip01', password: 'pw', server: { host: '127.0.0.1', port }, smsRadioTimeMs: 5, keepaliveIntervalMs: 100, ledger });
      cleanups.push(() => line.stop());
      await line.start();
      const sending = gateway.sending ?? assert.fail('no sending');
      const results: Recipient[] = [];
      sending.onResult('n', (r) => results.push(r));
      const batch = (numbers: string[]) => ({ text: 'hi', numbers, groups: numbers.map(() => ''), line: null, bytes: 2, segments: 1, encoding: 'GSM-7' as const });
      await sending.submitBatch('n', batch(['+8613800000001', '+8613800000002']), {}, { priority: 'normal', sendAt: null, expiresAt: null, batchId: 'normal' });
      await sending.submitBatch('n', batch(['+8613900000001']), {}, { priority: 'high', sendAt: null, expiresAt: null, batchId: 'high' });
      await new Promise<void>((resolve) => ledger.once('sent', () => resolve()));
      await new Promise<void>((resolve) => (results.length > 0 ? resolve() : gateway.sender?.once('result', () => resolve())));
      assert.deepEqual(ledger.sent.map((s) => s.number), ['+8613900000001']);
      assert.equal((await sending.status('normal'))?.queued, 2, 'the normal batch waits for the quiet hours to end');
    });

    it('purges finished recipients older than the retention, never queued or claimed ones, and no sent one inside the delivery window', async () => {
      let clock = 1_700_000_000_000;
      const outbox = new MemoryOutbox(() => clock);
      const schedule = new RetentionSchedule(asynchronousOf(outbox, ['purge']), 60_000, 120_000, (err) => assert.fail(String(err)), () => clock);
      outbox.enqueue({ batchId: 'b', text: 't', line: null, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients: [0, 1, 2].map((i) => ({ messageId: `m${i}`, number: `+861380000000${i}` })) });
      const [sent] = outbox.claim('goip01', 1, 1, 1);
      outbox.markSent(sent.messageId, 1, '2023-11-14');
      outbox.queue.cancel({ messageId: 'm2' });
      clock += 90_000;
      assert.equal(await schedule.purgeNow(), 0, 'past the retention, inside the delivery window');
      clock += 40_000;
      assert.equal(await schedule.purgeNow(), 2);
      assert.deepEqual(['m0', 'm1', 'm2'].map((id) => outbox.get(id)?.state), [undefined, 'queued', undefined]);
      assert.equal(schedule.intervalMs, 6000);
    });
  });
});
