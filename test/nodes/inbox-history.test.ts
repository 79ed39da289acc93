/**
 * The inbox's history: the goip-inbox node (msg.payload filters in, a page newest first out, msg.next
 * the cursor) and GET /goip/<config-id>/inbox ({items, next}); and reply correlation, the last SMS
 * goip-send sent to a number on msg.goip.inReplyTo of an SMS from it (goip-config replyWindow).
 */
import assert from 'node:assert/strict';
import { ask, inboxNodes, nextMillisecond } from '../helpers/inbox-rig';
import { DEVICES, flow, helper, listening, type Msg, nextInput, nodes, suiteWithTestLines } from '../helpers/red';

const A = '+8613800138000';
const B = '+8613700137000';
const C = '+8613900139000';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const creds = { cfg: { devices: DEVICES } };

/** in1 (every event) -> out, goip-send -> results, goip-inbox ibx -> ibxOut, catch -> caught. */
function historyFlow(configExtra: Record<string, unknown> = {}): Msg[] {
  return [
    ...flow({ stepTimeout: 0.2, ...configExtra }),
    { id: 'send', type: 'goip-send', z: 'tab', server: 'cfg', line: '', to: '', toType: 'str', text: '', textType: 'str', country: 'CN', numberFormat: 'e164', wires: [['results']] },
    { id: 'results', type: 'helper', z: 'tab' },
    ...inboxNodes(),
  ];
}

type Sims = Awaited<ReturnType<ReturnType<typeof suiteWithTestLines>['lines']>>;

/** An SMS from `from` on `line`, acked and emitted by goip-in; the next one gets a later receivedAt. */
async function receive(sims: Sims, line: string, from: string, text: string): Promise<Msg> {
  const got = nextInput('out', (m) => m.event === 'sms' && m.payload === text);
  assert.equal((await sims.line(line)!.receiveSms(from, text)).acked, true);
  const msg = await got;
  await nextMillisecond();
  return msg;
}

/** goip-send's result for one SMS to `to` on `line`. */
async function send(to: string, line: string, text = 'from the server'): Promise<Msg> {
  const result = nextInput('results');
  helper.getNode('send').receive({ payload: { to: [to], text, line } });
  const { payload } = await result;
  assert.equal(payload.status, 'sent');
  return payload;
}

async function failure(payload: unknown): Promise<Msg> {
  const caught = nextInput('caught');
  helper.getNode('ibx').receive({ payload });
  return (await caught).error;
}

const texts = (items: Msg[]): string[] => items.map((item) => item.text);

describe('inbox history and reply correlation', function () {
  const { lines } = suiteWithTestLines({ smsRadioTimeMs: 5, deliveryReportAfterMs: 1 });

  it('goip-inbox answers filters by sender, line, text, kind and time, a page at a time, newest first', async () => {
    await helper.load(nodes, historyFlow(), creds);
    const sims = await lines(await listening());
    const sent = await send(C, 'goip01');
    const delivery = await nextInput('out', (m) => m.event === 'delivery');
    assert.equal(delivery.payload.messageId, sent.messageId);
    await nextMillisecond();
    const smsIds = [];
    for (const [line, from, text] of [['goip01', A, 'Hello World'], ['goip02', A, 'second from A'], ['goip01', B, 'HELLO again'], ['goip02', B, 'bye'], ['goip01', A, 'last hello']]) {
      smsIds.push((await receive(sims, line, from, text)).goip.inboxId);
    }

    const all = await ask('ibx', { payload: {} });
    assert.equal('next' in all, false, 'one page holds them all');
    const items: Msg[] = all.payload;
    assert.deepEqual(texts(items), ['last hello', 'bye', 'HELLO again', 'second from A', 'Hello World', '']);
    assert.deepEqual(items.slice(0, 5).map((item) => item.inboxId), [...smsIds].reverse());
    for (const item of items) {
      assert.match(item.receivedAt, ISO);
      assert.ok(Math.abs(Date.parse(item.receivedAt) - Date.now()) < 60_000, `receivedAt ${item.receivedAt}`);
    }
    assert.deepEqual(items[0], { inboxId: smsIds[4], kind: 'sms', line: 'goip01', from: A, text: 'last hello', receivedAt: items[0].receivedAt, parts: 1 });
    const report = items[5];
    assert.deepEqual(report, { inboxId: delivery.goip.inboxId, kind: 'delivery', line: 'goip01', from: C, text: '', receivedAt: report.receivedAt, parts: 1, messageId: sent.messageId, status: 'delivered' });
    assert.deepEqual(items.map((item) => item.inboxId), [...items.map((item) => item.inboxId)].sort((x, y) => y - x), 'newest first');

    const query = async (payload: Msg): Promise<string[]> => texts((await ask('ibx', { payload })).payload);
    assert.deepEqual(await query({ from: A }), ['last hello', 'second from A', 'Hello World']);
    assert.deepEqual(await query({ from: '13800138000' }), ['last hello', 'second from A', 'Hello World'], 'national form of the same number');
    assert.deepEqual(await query({ line: 'goip02' }), ['bye', 'second from A']);
    assert.deepEqual(await query({ text: 'hello' }), ['last hello', 'HELLO again', 'Hello World'], 'substring, any case');
    assert.deepEqual(await query({ from: A, line: 'goip01', text: 'HELLO' }), ['last hello', 'Hello World']);
    assert.deepEqual(await query({ kind: 'sms' }), texts(items.slice(0, 5)));
    assert.deepEqual((await ask('ibx', { payload: { kind: 'delivery' } })).payload, [report]);
    const at = (text: string): string => items.find((item) => item.text === text)!.receivedAt;
    // since inclusive (ISO text), until exclusive (epoch ms).
    assert.deepEqual(await query({ since: at('HELLO again'), until: Date.parse(at('last hello')) }), ['bye', 'HELLO again']);
    assert.deepEqual(await query({ since: at('bye') }), ['last hello', 'bye']);
    assert.deepEqual(await query({ until: at('Hello World') }), ['']);

    // Pages: limit 2 walked by msg.next; the msg of the last page keeps no stale next.
    const pages: string[][] = [];
    let msg: Msg = { payload: { limit: 2 } };
    for (let i = 0; i < 5 && (i === 0 || msg.next !== undefined); i++) {
      msg = await ask('ibx', { payload: { limit: 2, before: msg.next }, next: msg.next });
      assert.ok(msg.payload.length <= 2);
      pages.push(texts(msg.payload));
    }
    assert.equal('next' in msg, false, 'the last page has no msg.next');
    assert.deepEqual(pages.flat(), texts(items), 'pages in order, none overlapping, none missing');
    const first = await ask('ibx', { payload: { limit: 4 } });
    assert.equal(typeof first.next, 'string');
    const second = await ask('ibx', { payload: { limit: '4', before: first.next }, next: first.next });
    assert.deepEqual([...texts(first.payload), ...texts(second.payload)], texts(items));
    assert.equal('next' in second, false);
  });

  it('goip-inbox fails a bad filter with msg.error code input', async () => {
    await helper.load(nodes, historyFlow(), creds);
    await listening();
    const cases: Array<[unknown, RegExp]> = [
      [{ limit: 5000 }, /limit must be a whole number from 1 to 1000, got 5000/],
      [{ limit: 0 }, /limit must be a whole number/],
      [{ kind: 'x' }, /kind must be "sms" or "delivery", got "x"/],
      [{ since: 'garbage' }, /since must be an ISO 8601 time or epoch milliseconds, got "garbage"/],
      [{ since: '2024-01-02', until: '2024-01-01' }, /until must be later than since/],
      [{ before: 'abc' }, /before must be the cursor of a previous page/],
      [{ colour: 'red' }, /unknown filter "colour"/],
      ['just text', /the filters must be an object/],
    ];
    for (const [payload, reason] of cases) {
      const error = await failure(payload);
      assert.match(error.message, reason, JSON.stringify(payload));
      assert.equal(error.code, 'input', JSON.stringify(payload));
      assert.equal(error.source.id, 'ibx');
    }
  });

  it('answers GET /goip/<id>/inbox with {items, next} as goip-inbox does; 400 for a bad filter, 404 for an unknown id', async () => {
    await helper.load(nodes, historyFlow(), creds);
    const sims = await lines(await listening());
    for (const [from, text] of [[A, 'a1'], [B, 'b1'], [A, 'a2'], [A, 'a3']]) await receive(sims, 'goip02', from, text);

    const first = await helper.request().get('/goip/cfg/inbox').query({ from: A, limit: 2 }).expect(200);
    assert.deepEqual(Object.keys(first.body).sort(), ['items', 'next']);
    assert.deepEqual(texts(first.body.items), ['a3', 'a2']);
    const node = await ask('ibx', { payload: { from: A, limit: 2 } });
    assert.deepEqual(first.body.items, node.payload, 'the same items as goip-inbox');
    assert.equal(first.body.next, node.next);
    const last = await helper.request().get('/goip/cfg/inbox').query({ from: A, limit: 2, before: first.body.next }).expect(200);
    assert.deepEqual(last.body, { items: [last.body.items[0]] });
    assert.equal(last.body.items[0].text, 'a1');
    assert.match(last.body.items[0].receivedAt, ISO);
    const filtered = await helper.request().get('/goip/cfg/inbox').query({ text: 'B', kind: 'sms', line: 'goip02' }).expect(200);
    assert.deepEqual(texts(filtered.body.items), ['b1']);

    for (const query of [{ limit: 5000 }, { kind: 'x' }, { since: 'garbage' }]) {
      const res = await helper.request().get('/goip/cfg/inbox').query(query).expect(400);
      assert.equal(res.body.code, 'input', JSON.stringify(query));
      assert.match(res.body.error, new RegExp(Object.keys(query)[0]));
    }
    await helper.request().get('/goip/nope/inbox').expect(404);
  });

  it('puts the last SMS sent to a number on msg.goip.inReplyTo of an SMS from it', async () => {
    await helper.load(nodes, historyFlow(), creds);
    const sims = await lines(await listening());
    const before = Date.now();
    await send(A, 'goip01', 'older');
    const sent = await send(A, 'goip02', 'the question');
    const afterSent = Date.now();

    const reply = await receive(sims, 'goip01', A, 'the answer');
    const inReplyTo = reply.goip.inReplyTo;
    assert.deepEqual(inReplyTo, { messageId: sent.messageId, batchId: sent.batchId, sentAt: inReplyTo.sentAt, line: 'goip02' });
    assert.match(inReplyTo.sentAt, ISO);
    const sentAt = Date.parse(inReplyTo.sentAt);
    assert.ok(sentAt >= before && sentAt <= afterSent, `sentAt ${inReplyTo.sentAt}`);
    assert.equal((await receive(sims, 'goip02', '13800138000', 'national form')).goip.inReplyTo?.messageId, sent.messageId);
    assert.equal('inReplyTo' in (await receive(sims, 'goip01', B, 'someone else')).goip, false);
  });

  it('puts no inReplyTo with replyWindow 0', async () => {
    await helper.load(nodes, historyFlow({ replyWindow: 0 }), creds);
    const sims = await lines(await listening());
    await send(A, 'goip01');
    const reply = await receive(sims, 'goip01', A, 'the answer');
    assert.equal(typeof reply.goip.inboxId, 'number', 'stored in the inbox');
    assert.equal('inReplyTo' in reply.goip, false);
  });
});
