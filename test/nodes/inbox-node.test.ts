/**
 * goip-in with the durable inbox (goip-config `inbox`, default on): every received SMS carries its
 * stable msg.goip.inboxId, each goip-in gets its own copy, and a copy the flow has not taken (done
 * not reached) is emitted again, msg.goip.redelivered, in receive order, to the goip-in redeployed,
 * to one deployed later and after a restart on the same store. With the inbox off, goip-in still
 * emits and goip-inbox fails its input.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ask, collect, hookedNodes, inboxNodes, turnsUntil } from '../helpers/inbox-rig';
import { DEVICES, flow, helper, listening, type Msg, nextInput, suiteWithTestLines } from '../helpers/red';

const A = '+8613800138000';
const creds = { cfg: { devices: DEVICES } };
/** Flow nodes with a position: Node-RED takes a node without x and y for a config node, which a redeploy cannot rewire. */
const placed = (f: Msg[]): Msg[] => f.map((n) => (n.z === undefined ? n : { x: 100, y: 100, ...n }));

/** Stored messages the goip-in `nodeId` has still to take, per the store of the deployed cfg. */
function untaken(nodeId: string): number[] {
  const cfg = helper.getNode('cfg') as any;
  return cfg.gateway.outbox.inbox().untaken(nodeId, { kinds: null, line: null }, 0, 100).map((m: Msg) => m.inboxId);
}

describe('goip-in with the inbox', function () {
  const { lines } = suiteWithTestLines({ smsRadioTimeMs: 5 });
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-inbox-node-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('emits a received SMS with its inboxId, a copy per goip-in with the same inboxId', async () => {
    // in1: every event, every line; in2: sms of goip01 only.
    const f = [...flow(), { id: 'in2', type: 'goip-in', z: 'tab', server: 'cfg', events: 'sms', line: 'goip01', wires: [['out2']] }, { id: 'out2', type: 'helper', z: 'tab' }];
    await helper.load(hookedNodes, f, creds);
    const sims = await lines(await listening());
    const firstAtOut2 = nextInput('out2');

    const other = nextInput('out', (m) => m.event === 'sms');
    assert.equal((await sims.line('goip02')!.receiveSms(A, 'on goip02')).acked, true);
    const onTwo = await other;
    const both = Promise.all([nextInput('out', (m) => m.event === 'sms' && m.payload === 'on goip01'), firstAtOut2]);
    assert.equal((await sims.line('goip01')!.receiveSms(A, 'on goip01')).acked, true);
    const [a, b] = await both;

    assert.equal(onTwo.line, 'goip02');
    assert.ok(Number.isInteger(onTwo.goip.inboxId), `inboxId ${onTwo.goip.inboxId}`);
    assert.equal(b.payload, 'on goip01', 'in2 (goip01 only) skipped the goip02 SMS');
    assert.equal(typeof a.goip.inboxId, 'number');
    assert.equal(a.goip.inboxId, b.goip.inboxId, 'one stored message, one inboxId in every copy');
    assert.ok(a.goip.inboxId > onTwo.goip.inboxId, 'inboxIds grow in receive order');
    assert.notEqual(a.goip, b.goip, 'each goip-in its own msg.goip');
    for (const msg of [onTwo, a, b]) {
      assert.equal(msg.from, A);
      assert.equal('redelivered' in msg.goip, false, 'first emission: no redelivered flag');
    }
  });

  it('emits what the flow has not taken again on a redeploy and to a goip-in deployed later; nothing once taken', async () => {
    // in1 -> out never calls done (not taken); in2 -> tk2 takes.
    const base = placed([...flow({}, { events: 'sms' }), { id: 'in2', type: 'goip-in', z: 'tab', server: 'cfg', events: 'sms', line: '', wires: [['tk2']] }, { id: 'tk2', type: 'taker', z: 'tab' }]);
    await helper.load(hookedNodes, base, creds);
    const sims = await lines(await listening());
    const atTk2 = collect('tk2');
    const first: Msg[] = [];
    for (const text of ['one', 'two', 'three']) {
      const got = nextInput('out');
      await sims.line('goip01')!.receiveSms(A, text);
      first.push(await got);
    }
    await atTk2.count(3);
    const ids = first.map((m) => m.goip.inboxId);
    assert.equal(new Set(ids).size, 3);
    await turnsUntil(() => untaken('in2').length === 0, () => `in2 has still to take ${untaken('in2')}`);
    assert.deepEqual(untaken('in1'), ids, 'in1 held them: the store keeps them for it');

    // Redeploy: in1 (changed) now goes to a taker; in3 is new. tk2 must not get them again.
    const atTk1 = collect('tk1');
    const atTk3 = collect('tk3');
    const changed = base.map((n) => (n.id === 'in1' ? { ...n, name: 'changed', wires: [['tk1']] } : n));
    const added = placed([{ id: 'tk1', type: 'taker', z: 'tab' }, { id: 'in3', type: 'goip-in', z: 'tab', server: 'cfg', events: 'sms', line: 'goip01', wires: [['tk3']] }, { id: 'tk3', type: 'taker', z: 'tab' }]);
    await helper.setFlows([...changed, ...added], 'nodes');
    for (const got of [await atTk1.count(3), await atTk3.count(3)]) {
      assert.deepEqual(got.map((m) => m.payload), ['one', 'two', 'three'], 'in receive order');
      assert.deepEqual(got.map((m) => m.goip.inboxId), ids, 'the same inboxIds');
      assert.ok(got.every((m) => m.goip.redelivered === true), 'msg.goip.redelivered');
    }
    await turnsUntil(() => untaken('in1').length === 0 && untaken('in3').length === 0, () => `untaken: in1 ${untaken('in1')}, in3 ${untaken('in3')}`);

    // Redeploy again: taken now, so the first message in1 emits is a new SMS, not a redelivery.
    const again = collect('tk1');
    await helper.setFlows([...changed.map((n) => (n.id === 'in1' ? { ...n, name: 'changed twice' } : n)), ...added], 'nodes');
    await sims.line('goip01')!.receiveSms(A, 'four');
    const [fresh] = await again.count(1);
    assert.equal(fresh.payload, 'four');
    assert.equal('redelivered' in fresh.goip, false);
    assert.ok(fresh.goip.inboxId > ids[2]);
    assert.equal(atTk2.msgs.length, 4, 'in2 (unchanged, took each) got each SMS once');
    for (const c of [atTk1, atTk2, atTk3, again]) c.stop();
  });

  it('emits what the flow had not taken again after a restart on the same store file', async () => {
    const store = path.join(dir, 'restart.sqlite');
    await helper.load(hookedNodes, flow({ store }, { events: 'sms' }), creds);
    const sims = await lines(await listening());
    const first: Msg[] = [];
    for (const text of ['held 1', 'held 2']) {
      const got = nextInput('out');
      await sims.line('goip02')!.receiveSms(A, text);
      first.push(await got);
    }
    await helper.unload();

    const atTk = collect('tk1');
    const restarted = flow({ store }, { events: 'sms', wires: [['tk1']] }).concat([{ id: 'tk1', type: 'taker', z: 'tab' }]);
    await helper.load(hookedNodes, restarted, creds);
    const got = await atTk.count(2);
    atTk.stop();
    assert.deepEqual(got.map((m) => m.payload), ['held 1', 'held 2']);
    assert.deepEqual(got.map((m) => m.goip.inboxId), first.map((m) => m.goip.inboxId));
    assert.ok(got.every((m) => m.goip.redelivered === true && m.line === 'goip02' && m.from === A));
    await turnsUntil(() => untaken('in1').length === 0, () => `in1 has still to take ${untaken('in1')}`);
  });

  it('with inbox off: goip-in still emits (no inboxId) and goip-inbox fails its input', async () => {
    await helper.load(hookedNodes, [...flow({ inbox: false }, { events: 'sms' }), ...inboxNodes()], creds);
    const sims = await lines(await listening());
    const got = nextInput('out');
    assert.equal((await sims.line('goip01')!.receiveSms(A, 'no inbox')).acked, true);
    const msg = await got;
    assert.equal(msg.payload, 'no inbox');
    assert.equal('inboxId' in msg.goip, false);
    assert.equal('redelivered' in msg.goip, false);
    assert.equal((helper.getNode('cfg') as any).gateway.inbox, null);

    const caught = nextInput('caught');
    const answered = ask('ibx', { payload: {} }).then(() => assert.fail('goip-inbox answered with the inbox off'));
    const { error } = await Promise.race([caught, answered]);
    assert.equal(error.message, 'Error: goip-inbox: the inbox is not available (the Inbox option of the goip-config node is off)');
    assert.equal(error.code, 'unavailable');
    assert.equal(error.source.id, 'ibx');
  });
});
