/**
 * Long SMS received part by part: which texts are one full part (counted by the segment library),
 * the joiner on a fake clock (parts 5 s apart, the window, several senders, restore from a store),
 * the held parts in SQLite across a reopen, and the gateway over real UDP.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { GoipGateway } from '../../src/gateway';
import { SegmentedMessage } from 'sms-segments-calculator';
import { isFullPart, partKind } from '../../src/gateway/parts/part-length';
import { MemoryHeldParts } from '../../src/gateway/parts/memory-held-parts';
import { PartJoiner } from '../../src/gateway/parts/part-joiner';
import { type HeldPartStore, SqliteOutbox } from '../../src/outbox';
import { eventMessage } from '../../src/nodes/messages';
import type { GoipEvent } from '../../src/link';
import { SimLine } from '../../src/sim';
import { GSM_PARTS, UCS2_PARTS } from '../helpers/long-sms';


const WINDOW_MS = 60_000;

/** Held in memory but kept at stop(), as the SQLite store keeps them. */
class DurableMemoryParts extends MemoryHeldParts {
  override readonly durable = true;
}

function sms(text: string, reportId: string, from = '+8613800138000', line = 'goip01'): GoipEvent {
  return { event: 'sms', line, from, payload: text, fields: { id: line, verb: 'RECEIVE', reportId, srcnum: from, msg: text }, receivedAt: Date.now() };
}

describe('part length: one full part of a concatenated SMS', () => {
  it('is 153 or 152 GSM septets, escaped characters counting two', () => {
    assert.equal(isFullPart('a'.repeat(153)), true);
    assert.equal(isFullPart('a'.repeat(152)), true);
    assert.equal(isFullPart(`${'a'.repeat(151)}€`), true, '151 + an escaped € = 153 septets');
    assert.equal(isFullPart(`${'a'.repeat(150)}{`), true, '150 + an escaped { = 152 septets');
    assert.equal(isFullPart(`${'a'.repeat(152)}€`), false, '154 septets');
    assert.equal(isFullPart('a'.repeat(151)), false);
    assert.equal(isFullPart('a'.repeat(160)), false, 'a full single SMS');
    assert.equal(isFullPart(''), false);
  });

  it('is 67 or 66 UCS-2 units, a character outside the BMP counting two', () => {
    assert.equal(isFullPart('中'.repeat(67)), true);
    assert.equal(isFullPart('中'.repeat(66)), true);
    assert.equal(isFullPart(`${'中'.repeat(65)}😀`), true, '65 + a surrogate pair = 67 units');
    assert.equal(isFullPart('中'.repeat(70)), false, 'a full single UCS-2 SMS');
    assert.equal(isFullPart('中'.repeat(65)), false);
    assert.equal(isFullPart(GSM_PARTS.join('')), false, 'a text the firmware joined itself');
  });

  it('decides by length alone only where the segment library would say the same', () => {
    const bySegments = (text: string): string => {
      const message = new SegmentedMessage(text);
      if (message.segmentsCount !== 1) return 'whole';
      const gsm = message.encodingName === 'GSM-7';
      const size = message.messageSize / (gsm ? 7 : 16);
      const [min, max] = gsm ? [152, 153] : [66, 67];
      return size > max ? 'whole' : size >= min ? 'full' : 'short';
    };
    for (const unit of ['a', '€', '{', '中', '😀', 'é', 'a€', '中a']) {
      for (let n = 0; n <= 180; n++) {
        const text = unit.repeat(n).slice(0, Math.max(n, 0));
        assert.equal(partKind(text), bySegments(text), `${JSON.stringify(unit)} x ${n}`);
      }
    }
  });
});

describe('part joiner', () => {
  let clock: sinon.SinonFakeTimers;
  let published: GoipEvent[];
  let warnings: unknown[];
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: 1_700_000_000_000 });
    published = [];
    warnings = [];
  });
  afterEach(() => clock.restore());

  function joiner(store: HeldPartStore = new MemoryHeldParts(), enabled = true): PartJoiner {
    const parts = new PartJoiner({ enabled, windowMs: WINDOW_MS, store, publish: (e) => published.push(e), warn: (e) => warnings.push(e) });
    parts.start();
    return parts;
  }

  it('joins three 153-character GSM parts 5 s apart into one sms with parts: 3', () => {
    const parts = joiner();
    GSM_PARTS.forEach((text, i) => {
      if (i > 0) clock.tick(5000);
      parts.accept(sms(text, String(100 - i)));
    });
    // The last part is full too: it waits for a fourth until the window ends.
    clock.tick(WINDOW_MS - 1);
    assert.equal(published.length, 0);
    clock.tick(1);
    assert.equal(published.length, 1);
    const [event] = published;
    assert.equal(event.payload, GSM_PARTS.join(''));
    assert.equal(event.parts, 3);
    assert.deepEqual(event.reportIds, ['100', '99', '98']);
    const msg = eventMessage(event);
    assert.equal(msg.payload, GSM_PARTS.join(''));
    assert.equal(msg.from, '+8613800138000');
    assert.deepEqual(msg.goip, { id: 'goip01', verb: 'RECEIVE', reportId: '100', srcnum: '+8613800138000', msg: GSM_PARTS.join(''), parts: 3, reportIds: ['100', '99', '98'] });
  });

  it('joins a UCS-2 message of 67 + 67 + 10 characters as soon as the short last part comes', () => {
    const parts = joiner();
    parts.accept(sms(UCS2_PARTS[0], '1'));
    clock.tick(5000);
    parts.accept(sms(UCS2_PARTS[1], '2'));
    clock.tick(5000);
    assert.equal(published.length, 0);
    parts.accept(sms(UCS2_PARTS[2], '3'));
    assert.equal(published.length, 1);
    assert.equal(published[0].payload, UCS2_PARTS.join(''));
    assert.equal(published[0].parts, 3);
    assert.equal(parts.heldCount, 0);
  });

  it('passes a 160-character SMS and a text the firmware joined itself at once, with parts: 1', () => {
    const parts = joiner();
    parts.accept(sms('x'.repeat(160), '1'));
    parts.accept(sms(GSM_PARTS.join(''), '2'));
    assert.deepEqual(published.map((e) => [e.payload, e.parts, e.reportIds]), [
      ['x'.repeat(160), 1, ['1']],
      [GSM_PARTS.join(''), 1, ['2']],
    ]);
  });

  it('emits a held part as it is when the window ends without a continuation; the window restarts with each part', () => {
    const parts = joiner();
    parts.accept(sms(GSM_PARTS[0], '1'));
    clock.tick(WINDOW_MS - 1);
    parts.accept(sms(GSM_PARTS[1], '2'));
    clock.tick(WINDOW_MS - 1);
    assert.equal(published.length, 0);
    clock.tick(1);
    assert.deepEqual(published.map((e) => [e.payload, e.parts]), [[GSM_PARTS[0] + GSM_PARTS[1], 2]]);
    parts.accept(sms(GSM_PARTS[2], '3'));
    clock.tick(WINDOW_MS);
    assert.deepEqual(published.map((e) => e.parts), [2, 1]);
    assert.equal(published[1].payload, GSM_PARTS[2]);
  });

  it('keeps senders and lines apart', () => {
    const parts = joiner();
    parts.accept(sms(GSM_PARTS[0], '1', '+1'));
    parts.accept(sms(UCS2_PARTS[0], '2', '+2'));
    parts.accept(sms(GSM_PARTS[0], '3', '+1', 'goip02'));
    parts.accept(sms('end 1', '4', '+1'));
    parts.accept(sms('end 2', '5', '+2'));
    assert.deepEqual(published.map((e) => [e.line, e.from, e.payload]), [
      ['goip01', '+1', `${GSM_PARTS[0]}end 1`],
      ['goip01', '+2', `${UCS2_PARTS[0]}end 2`],
    ]);
    clock.tick(WINDOW_MS);
    assert.deepEqual(published.slice(2).map((e) => [e.line, e.payload]), [['goip02', GSM_PARTS[0]]]);
  });

  it('ignores a resend of a held part (same report id and text), as after a restart the server no longer remembers it', () => {
    const parts = joiner();
    parts.accept(sms(GSM_PARTS[0], '1'));
    parts.accept(sms(GSM_PARTS[0], '1'));
    parts.accept(sms('tail', '2'));
    assert.deepEqual(published.map((e) => e.reportIds), [['1', '2']]);
  });

  it('passes every text at once when joining is off', () => {
    const parts = joiner(new MemoryHeldParts(), false);
    parts.accept(sms(GSM_PARTS[0], '1'));
    parts.accept(sms(GSM_PARTS[1], '2'));
    assert.deepEqual(published.map((e) => e.parts), [1, 1]);
  });

  it('resumes held parts from the store: a restart between parts loses none, the window counts from the newest part', () => {
    const store = new DurableMemoryParts();
    const before = joiner(store);
    before.accept(sms(GSM_PARTS[0], '1'));
    clock.tick(5000);
    before.accept(sms(GSM_PARTS[1], '2'));
    assert.equal(store.all().length, 2);
    // Down for 20 s; a durable store keeps what stop() leaves, as after a kill -9.
    before.stop();
    assert.equal(published.length, 0);
    clock.tick(20_000);
    const after = joiner(store);
    assert.equal(after.heldCount, 2);
    after.accept(sms(GSM_PARTS[2], '3'));
    clock.tick(WINDOW_MS - 20_000 - 1);
    assert.equal(published.length, 0, 'the third part is full: it waits for a fourth');
    clock.tick(WINDOW_MS);
    assert.deepEqual(published.map((e) => [e.payload, e.parts]), [[GSM_PARTS.join(''), 3]]);
    assert.deepEqual(store.all(), []);
  });

  it('emits restored parts whose window ended while it was down, and all of them when joining was turned off', () => {
    const store = new DurableMemoryParts();
    store.hold({ line: 'goip01', from: '+1', event: sms(GSM_PARTS[0], '1', '+1'), heldAt: Date.now() - WINDOW_MS - 1 });
    store.hold({ line: 'goip01', from: '+2', event: sms(GSM_PARTS[0], '2', '+2'), heldAt: Date.now() });
    joiner(store).stop();
    clock.tick(0);
    assert.equal(published.length, 0, 'nothing before the timers run');
    joiner(store);
    clock.tick(0);
    assert.deepEqual(published.map((e) => e.from), ['+1']);
    published = [];
    const off = joiner(store, false);
    clock.tick(0);
    assert.deepEqual(published.map((e) => e.from), ['+2']);
    off.stop();
  });

  it('lets a part out at once, with a warning, when the store cannot hold it', () => {
    const store = new MemoryHeldParts();
    store.hold = () => {
      throw new Error('disk full');
    };
    const parts = joiner(store);
    parts.accept(sms(GSM_PARTS[0], '1'));
    assert.deepEqual(published.map((e) => e.payload), [GSM_PARTS[0]]);
    assert.match(String(warnings[0]), /disk full/);
  });

  it('lets held parts out at stop when its store is not durable', () => {
    const parts = joiner();
    parts.accept(sms(GSM_PARTS[0], '1'));
    parts.stop();
    assert.deepEqual(published.map((e) => e.payload), [GSM_PARTS[0]]);
  });
});

describe('held parts in the SQLite store', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-parts-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps held parts across a reopen and forgets a released chain', () => {
    const file = path.join(dir, 'store.sqlite');
    const first = SqliteOutbox.open(file);
    const held = first.heldParts();
    assert.equal(held.durable, true);
    held.hold({ line: 'goip01', from: '+1', event: sms(GSM_PARTS[0], '1', '+1'), heldAt: 10 });
    held.hold({ line: 'goip01', from: '+2', event: sms(UCS2_PARTS[0], '2', '+2'), heldAt: 11 });
    held.hold({ line: 'goip01', from: '+1', event: sms(GSM_PARTS[1], '3', '+1'), heldAt: 12 });
    first.close();
    const second = SqliteOutbox.open(file);
    try {
      const again = second.heldParts();
      assert.deepEqual(again.all().map((p) => [p.from, p.event.payload, p.heldAt]), [
        ['+1', GSM_PARTS[0], 10],
        ['+2', UCS2_PARTS[0], 11],
        ['+1', GSM_PARTS[1], 12],
      ]);
      again.release('goip01', '+1');
      assert.deepEqual(again.all().map((p) => p.from), ['+2']);
    } finally {
      second.close();
    }
  });
});

describe('GoipGateway joins long SMS over UDP', () => {
  it('acks every part at once and publishes one sms; a 160-character SMS passes at once', async () => {
    const gateway = new GoipGateway({ server: { bind: '127.0.0.1', port: 0, devices: [{ id: 'goip01', password: 'pw' }] }, store: ':memory:', joinWindowMs: 30_000 });
    const address = await gateway.start();
    const line = new SimLine({ id: 'goip01', password: 'pw', server: { host: '127.0.0.1', port: address?.port ?? 0 }, keepaliveIntervalMs: 60_000 });
    try {
      const published: GoipEvent[] = [];
      gateway.on('event', (e) => {
        if (e.event === 'sms') published.push(e);
      });
      await line.start();
      for (const text of GSM_PARTS) assert.equal((await line.receiveSms('+8613900139000', text)).acked, true);
      assert.equal(published.length, 0, 'the third part waits for a fourth');
      assert.equal(gateway.parts.heldCount, 3);
      assert.equal((await line.receiveSms('+8613900139000', 'x'.repeat(160))).acked, true);
      assert.deepEqual(published.map((e) => e.parts), [3, 1], 'another text of the sender ends the chain');
      assert.equal(published[0].payload, `${GSM_PARTS.join('')}`);
    } finally {
      await line.stop();
      await gateway.stop();
    }
  });
});
