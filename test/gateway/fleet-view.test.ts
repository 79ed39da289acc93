/** FleetView, the model of the GoIP sidebar: signal history per minute, counts, the event list and what it hides. */
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { FleetView, GoipGateway } from '../../src/gateway';
import type { GoipEvent } from '../../src/link';
import { MemoryOutbox } from '../helpers/memory-outbox';

const MINUTE = 60_000;

function keepalive(signal: number): GoipEvent {
  return { event: 'keepalive', line: 'goip01', payload: { id: 'goip01', signal, gsmStatus: 'LOGIN', carrier: 'CMCC' }, fields: {}, receivedAt: Date.now() };
}

function sms(text: string, parts = 1): GoipEvent {
  return { event: 'sms', line: 'goip01', from: '+8613800138000', payload: text, fields: { msg: text }, receivedAt: Date.now(), parts, reportIds: [] };
}

describe('FleetView (the sidebar model)', () => {
  let clock: sinon.SinonFakeTimers;
  let gateway: GoipGateway;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: new Date(2024, 4, 1, 10, 0, 30).getTime() });
    gateway = new GoipGateway({ server: { port: 0, devices: [{ id: 'goip01', password: 'secret' }] }, store: new MemoryOutbox() });
  });
  afterEach(() => clock.restore());

  it('keeps the newest signal of each minute for an hour, and skips unknown signals', async () => {
    const view = new FleetView(gateway);
    gateway.emit('event', keepalive(20));
    clock.tick(10_000);
    gateway.emit('event', keepalive(18));
    gateway.emit('event', keepalive(99));
    clock.tick(MINUTE);
    gateway.emit('event', keepalive(25));
    const minute = (at: number): number => at - (at % MINUTE);
    const history = (await view.snapshot()).lines[0].signalHistory;
    assert.deepEqual(history.map(([, s]) => s), [18, 25]);
    assert.equal(history[1][0], minute(Date.now()));
    clock.tick(60 * MINUTE - 1);
    assert.deepEqual((await view.snapshot()).lines[0].signalHistory.map(([, s]) => s), [25], 'older than an hour is gone');
    view.close();
  });

  it('counts SMS in per day, lists events newest first up to the limit, and hides texts unless asked', async () => {
    const hidden = new FleetView(gateway, { maxEvents: 3 });
    const shown = new FleetView(gateway, { showTexts: true });
    let changes = 0;
    hidden.on('change', () => changes++);
    gateway.emit('event', sms('first secret'));
    gateway.emit('event', sms('a long one', 3));
    gateway.emit('event', keepalive(20));
    gateway.emit('event', { event: 'delivery', line: 'goip01', payload: { to: '+1', state: 0, status: 'delivered', smsNo: 7, messageId: 'm1' }, fields: {}, receivedAt: Date.now() });
    gateway.emit('event', { event: 'ussn', line: 'goip01', payload: 'balance 12.00', fields: {}, receivedAt: Date.now() });
    const snapshot = await hidden.snapshot();
    assert.equal(changes, 5);
    assert.equal(snapshot.lines[0].smsInToday, 2);
    assert.equal(snapshot.lines[0].smsOutToday, 0);
    assert.deepEqual(snapshot.queue, { queued: 0, claimed: 0 });
    assert.deepEqual(snapshot.events.map((e) => [e.event, e.summary]), [
      ['ussn', ''],
      ['delivery', 'to: +1, state: 0, status: delivered, smsNo: 7, messageId: m1'],
      ['sms', '+8613800138000 · 3 parts'],
    ]);
    assert.deepEqual((await shown.snapshot()).events.map((e) => e.summary).filter((s) => /secret|balance/.test(s)), ['balance 12.00', '+8613800138000 · first secret']);
    clock.tick(24 * 60 * MINUTE);
    assert.equal((await hidden.snapshot()).lines[0].smsInToday, 0, 'a new day starts from 0');
    hidden.close();
    shown.close();
  });
});
