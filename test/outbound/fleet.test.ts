import assert from 'node:assert/strict';
import { GroupRouter, checkGroups, routeAll } from '../../src/send/routing';
import { composeBatch, InputError } from '../../src/send/compose';
import { checkSettings } from '../../src/gateway/check-settings';
import { GoipGateway } from '../../src/gateway';
import type { GoipEvent } from '../../src/link';
import { SimLine } from '../../src/sim';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { type FleetRig, numbers, startFleetRig } from '../helpers/fleet-rig';

const GROUPS = checkGroups(
  [
    { name: 'cn', lines: ['goip01', 'goip02'], prefixes: ['+86'], numberFormat: 'national', country: 'CN' },
    { name: 'ua', lines: 'goip03 goip04', prefixes: '380', numberFormat: 'digits', country: '' },
  ],
  new Set(['goip01', 'goip02', 'goip03', 'goip04', 'goip05']),
);
const RULE = { country: '', format: 'e164' as const };

describe('fleet', () => {
  describe('pure parts', () => {
    it('routes by the longest E.164 prefix, in the group\'s format; msg.group pins; no match goes to the lines in no group', () => {
      const router = new GroupRouter([...GROUPS, { name: 'cn-mobile', lines: ['goip02'], prefixes: ['86138'], numberFormat: 'e164', country: '' }]);
      assert.deepEqual(router.route('+8613900139000', RULE, null, null), { number: '13900139000', group: 'cn' });
      assert.deepEqual(router.route('+8613800138000', RULE, null, null), { number: '+8613800138000', group: 'cn-mobile' });
      assert.deepEqual(router.route('+380961234567', RULE, null, null), { number: '380961234567', group: 'ua' });
      assert.deepEqual(router.route('+447911123456', RULE, null, null), { number: '+447911123456', group: '' });
      assert.deepEqual(router.route('+447911123456', RULE, 'ua', null), { number: '447911123456', group: 'ua' });
      assert.throws(() => router.route('+447911123456', RULE, 'nope', null), /unknown group "nope"/);
      assert.throws(() => router.route('+447911123456', RULE, 'ua', 'goip01'), /line "goip01" is not in group "ua"/);
      assert.deepEqual(router.groupsOf('goip02'), ['cn', 'cn-mobile']);
      assert.deepEqual(router.groupsOf('goip05'), ['']);
      assert.equal(new GroupRouter().groupsOf('goip05'), undefined);
    });

    it('refuses a send nothing can carry: an unknown group, or no line left outside the groups', () => {
      const router = new GroupRouter(GROUPS);
      const grouped = new Set(['goip01', 'goip02', 'goip03', 'goip04']);
      assert.throws(() => composeBatch({ text: 'x', to: '+447911123456', line: null }, RULE, grouped, router), InputError);
      assert.throws(() => composeBatch({ text: 'x', to: '+447911123456', line: null, group: 'nope' }, RULE, grouped, router), /unknown group/);
      const batch = composeBatch({ text: 'x', to: ['+8613900139000', '+380961234567', '+86 139 0013 9000'], line: null }, RULE, grouped, router);
      assert.deepEqual(batch.numbers, ['13900139000', '380961234567']);
      assert.deepEqual(batch.groups, ['cn', 'ua']);
      assert.deepEqual(routeAll(['+447911123456'], RULE, new GroupRouter(), null, null, grouped), { numbers: ['+447911123456'], groups: [''], kept: [0] });
      assert.throws(() => checkGroups([{ name: 'x', lines: ['goip09'] }], grouped), /line "goip09" is not in the lines list/);
      assert.throws(() => checkGroups([{ name: 'x' }, { name: 'x' }], grouped), /twice/);
    });

  });

  describe('against simulated lines', () => {
    let rig: FleetRig | null = null;
    afterEach(async () => {
      await rig?.stop();
      rig = null;
    });

    it('sends 80 numbers on 8 working lines beside 8 mute ones within 1.25 x the working lines\' limit (real 3 s timing, fake clock), no duplicate', async function () {
      this.timeout(60_000);
      rig = await startFleetRig({ working: 8, mute: 8, fakeTime: true, sim: { smsRadioTimeMs: 3000, keepaliveIntervalMs: 30_000 } });
      const startedAt = Date.now();
      const done = rig.results(80);
      rig.enqueue(numbers('8613800', 80));
      const results = await done;
      const elapsedMs = Date.now() - startedAt;
      const limitMs = (80 / 8) * 3000;
      console.log(`      80 numbers, 8 working + 8 mute lines: ${(elapsedMs / 1000).toFixed(1)} s (working lines' limit ${limitMs / 1000} s)`);
      assert.ok(elapsedMs <= 1.25 * limitMs, `${elapsedMs} ms for 80 numbers, limit ${limitMs} ms`);
      assert.ok(results.every((r) => r.state === 'sent'), JSON.stringify(results.filter((r) => r.state !== 'sent')));
      const working = new Set(rig.ids.slice(0, 8));
      assert.ok(rig.ledger.sent.every((s) => working.has(s.line)));
      assert.equal(rig.ledger.sent.length, 80);
      assert.deepEqual(rig.ledger.duplicates(), []);
    });

    it('quarantines a mute line after its unanswered handshakes and probes it; it recovers once it answers', async function () {
      this.timeout(30_000);
      rig = await startFleetRig({ working: 1, mute: 1, fakeTime: true, bulk: { quarantineMs: 60_000 }, sim: { smsRadioTimeMs: 3000 } });
      const mute = rig.lines[1];
      const quarantined = new Promise<number>((resolve) => rig?.sender.once('quarantine', () => resolve(Date.now())));
      const first = rig.results(40);
      rig.enqueue(numbers('8613801', 40));
      await first;
      const at = await quarantined;
      assert.deepEqual(rig.health[0], { event: 'quarantine', line: 'goip02', reason: 'handshake', until: at + 60_000 });
      assert.equal(rig.ledger.sent.filter((s) => s.line === 'goip02').length, 0);
      (mute as unknown as { options: { muteBulk: boolean } }).options.muteBulk = false;
      const recovered = new Promise<number>((resolve) => rig?.sender.once('recovered', () => resolve(Date.now())));
      assert.ok((await recovered) >= at + 60_000, 'probed only once the quarantine was over');
      assert.deepEqual(rig.health.at(-1), { event: 'recovered', line: 'goip02', reason: 'handshake' });
      assert.equal(rig.sender.quarantineOf('goip02'), null);
    });

    it('quarantines no working line at 10% datagram loss', async function () {
      this.timeout(60_000);
      rig = await startFleetRig({ working: 8, fakeTime: true, sim: { smsRadioTimeMs: 3000, faults: { loss: 0.1, seed: 12 } } });
      const done = rig.results(160);
      rig.enqueue(numbers('8613802', 160));
      const results = await done;
      assert.deepEqual(rig.health, []);
      assert.ok(results.filter((r) => r.state === 'sent').length >= 150);
      assert.deepEqual(rig.ledger.duplicates(), []);
    });

    it('quarantines a line whose radio fails SMS in a row; its numbers go out on the others', async function () {
      this.timeout(30_000);
      rig = await startFleetRig({ working: 2, fakeTime: true, bulk: { quarantineAfterErrors: 3 }, perLine: (i) => ({ failNumbers: () => i === 0 }) });
      const done = rig.results(20);
      rig.enqueue(numbers('8613803', 20));
      const results = await done;
      assert.ok(results.every((r) => r.state === 'sent' && r.line === 'goip02'));
      assert.deepEqual(rig.health.map((e) => [e.event, e.line, e.reason]), [['quarantine', 'goip01', 'errors']]);
    });

    it('sends every number only on its group\'s lines, in its group\'s format', async function () {
      this.timeout(30_000);
      const router = new GroupRouter(GROUPS);
      rig = await startFleetRig({ working: 5, fakeTime: true, fleet: { groupsOf: (line) => router.groupsOf(line), routableGroups: () => router.routableGroups(['goip01', 'goip02', 'goip03', 'goip04', 'goip05']) } });
      const raw = [...numbers('8613804', 10, 13), ...numbers('38096', 10), ...numbers('44791', 4)];
      const batch = composeBatch({ text: 'x', to: raw, line: null }, RULE, new Set(rig.ids), router);
      const done = rig.results(24);
      rig.enqueue(batch.numbers, batch.groups);
      await done;
      for (const sms of rig.ledger.sent) {
        if (sms.number.startsWith('138')) assert.ok(['goip01', 'goip02'].includes(sms.line), `${sms.number} on ${sms.line}`);
        else if (sms.number.startsWith('380')) assert.ok(['goip03', 'goip04'].includes(sms.line), `${sms.number} on ${sms.line}`);
        else assert.equal(sms.line, 'goip05', `${sms.number} on ${sms.line}`);
      }
      assert.equal(rig.ledger.sent.filter((s) => /^138\d{8}$/.test(s.number)).length, 10, 'national format');
      assert.equal(rig.ledger.sent.filter((s) => /^38096\d{7}$/.test(s.number)).length, 10, 'digits format');
      assert.equal(rig.ledger.sent.filter((s) => s.number.startsWith('+44')).length, 4);
    });

    it('holds a line to its hourly limit across the rolling hour and spaces its SMS by interval + jitter (fake clock)', async function () {
      this.timeout(30_000);
      rig = await startFleetRig({ working: 1, fakeTime: true, bulk: { hourlyLimit: 3, minIntervalMs: 1000, jitterMs: 2000 }, fleet: { random: () => 0.25 } });
      const startedAt = Date.now();
      const firstHour = rig.results(3);
      rig.enqueue(numbers('8613805', 5));
      await firstHour;
      const rest = rig.results(2);
      await rest;
      const at = rig.ledger.sent.map((s) => s.at - startedAt);
      assert.ok(at[2] < 3600_000 && at[3] >= 3600_000, `sent at ${at.join(', ')} ms`);
      const gaps = at.slice(1, 3).map((t, i) => t - at[i]);
      for (const gap of gaps) assert.ok(gap >= 1500, `${gap} ms between two SMS: interval 1000 + jitter 0.25 x 2000`);
      assert.equal(rig.outbox.sentSince('goip01', startedAt), 5);
    });

    it('offers small batches to lines by roundrobin', async function () {
      this.timeout(30_000);
      rig = await startFleetRig({ working: 3, fakeTime: true, fleet: { linePolicy: 'roundrobin' } });
      const lines: string[] = [];
      for (let i = 0; i < 4; i++) {
        const done = rig.results(1);
        rig.enqueue(numbers(`861380${6 + i}`, 1));
        lines.push(...(await done).map((r) => r.line as string));
      }
      assert.deepEqual(lines, ['goip01', 'goip02', 'goip03', 'goip01']);
    });
  });

  describe('balance and number by USSD', () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('reads `Your balance is 12.34` as balance 12.34, tells lowbalance, parks the low line; fills in an unknown SIM number', async function () {
      this.timeout(20_000);
      const devices = ['goip01', 'goip02'].map((id) => ({ id, password: 'pw' }));
      const checks = checkSettings({ balanceUssd: '*100#', balanceEvery: '60', lowBalance: '20', parkOnLowBalance: true, numberUssd: '*99#' });
      const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port: 0, devices }, store: new MemoryOutbox(), fleet: { checks }, sending: { stepTimeoutMs: 200 } });
      cleanups.push(() => gateway.stop());
      const events: GoipEvent[] = [];
      const seen = (name: string, line: string): Promise<GoipEvent> =>
        new Promise((resolve) => {
          const look = (): void => {
            const found = events.find((e) => e.event === name && e.line === line);
            if (found === undefined) return;
            gateway.off('event', look);
            resolve(found);
          };
          gateway.on('event', look);
        });
      gateway.on('event', (e) => events.push(e));
      const expected = [seen('balance', 'goip01'), seen('lowbalance', 'goip01'), seen('balance', 'goip02'), seen('number', 'goip01')];
      const port = (await gateway.start())?.port as number;
      const replies = (balance: string) => ({ '*100#': `Your balance is ${balance}`, '*99#': 'Your number is +8613800138000.' });
      for (const [id, balance] of [['goip01', '12.34'], ['goip02', '99.00']]) {
        const line = new SimLine({ id, password: 'pw', server: { host: '127.0.0.1', port }, ussdDelayMs: 5, smsRadioTimeMs: 20, keepaliveIntervalMs: 200, ussdReplies: replies(balance) });
        cleanups.push(() => line.stop());
        await line.start();
      }
      const [balance, low, other, number] = await Promise.all(expected);
      assert.deepEqual(balance.payload, { line: 'goip01', amount: 12.34, text: 'Your balance is 12.34' });
      assert.deepEqual(low.payload, { line: 'goip01', amount: 12.34, text: 'Your balance is 12.34', threshold: 20 });
      assert.equal((other.payload as { amount: number }).amount, 99);
      assert.ok(!events.some((e) => e.event === 'lowbalance' && e.line === 'goip02'));
      assert.deepEqual(number.payload, { line: 'goip01', number: '+8613800138000', text: 'Your number is +8613800138000.' });
      const view = gateway.fleet.lineView('goip01', gateway.sender);
      assert.equal(view.balance, 12.34);
      assert.ok(typeof view.balanceAt === 'number' && view.balanceAt <= Date.now());
      assert.equal(view.number, '+8613800138000');
      assert.equal(view.quarantine, null);

      const sending = gateway.sending as NonNullable<typeof gateway.sending>;
      const results: string[] = [];
      const all = new Promise<void>((resolve) =>
        sending.onResult('n', (r) => {
          results.push(`${r.state} ${r.line}`);
          if (results.length === 6) resolve();
        }),
      );
      sending.submit({ owner: 'n', text: 'x', to: numbers('8613807', 6, 13), line: null, rule: RULE });
      await all;
      assert.deepEqual(results, Array(6).fill('sent goip02'), 'the low line took no numbers');
    });
  });
});
