import assert from 'node:assert/strict';
import { events } from '@node-red/util';
import { configStatus, DEVICES, flow, helper, listening, type Msg, nextInput, nodes, suiteWithTestLines } from '../helpers/red';
import { withoutDrivers } from '../helpers/sqlite';

/** goip-send wired to a join node (rebuilds each batch) and a catch node. */
function sendFlow(sendExtra: Record<string, unknown> = {}, configExtra: Record<string, unknown> = {}): Msg[] {
  const f = flow({ stepTimeout: 0.2, ...configExtra });
  f.push(
    { id: 'send', type: 'goip-send', z: 'tab', server: 'cfg', line: '', to: '', toType: 'str', text: '', textType: 'str', country: 'CN', numberFormat: 'e164', wires: [['results', 'join1']], ...sendExtra },
    { id: 'results', type: 'helper', z: 'tab' },
    { id: 'join1', type: 'join', z: 'tab', mode: 'auto', build: 'object', property: 'payload', propertyType: 'msg', key: 'topic', joiner: '\\n', joinerType: 'str', accumulate: false, timeout: '', count: '', wires: [['joined']] },
    { id: 'joined', type: 'helper', z: 'tab' },
    { id: 'done1', type: 'complete', z: 'tab', scope: ['send'], uncaught: false, wires: [['stored']] },
    { id: 'stored', type: 'helper', z: 'tab' },
  );
  return f;
}

describe('goip-send node', function () {
  const { lines } = suiteWithTestLines({ smsRadioTimeMs: 5 });

  it('acknowledges the input once stored, sends every recipient and emits results a join rebuilds', async () => {
    await helper.load(nodes, sendFlow(), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const stored = nextInput('stored');
    const joined = nextInput('joined');
    helper.getNode('send').receive({ payload: 'Hello 你好', to: '13800138000, 13900139000;+8613700137000', topic: 'batch-1' });
    await stored;
    const batch = (await joined).payload as Msg[];
    assert.equal(batch.length, 3);
    assert.deepEqual(batch.map((r) => r.to).sort(), ['+8613700137000', '+8613800138000', '+8613900139000']);
    for (const result of batch) {
      assert.equal(result.status, 'sent');
      assert.equal(result.encoding, 'UCS-2');
      assert.equal(result.segments, 1);
      assert.ok(['goip01', 'goip02'].includes(result.line));
      assert.equal(typeof result.messageId, 'string');
      assert.equal(result.error, null);
    }
    assert.equal(sims.ledger.sent.length, 3);
    assert.deepEqual(sims.ledger.duplicates(), []);
    assert.equal(sims.ledger.sent[0].text, 'Hello 你好');
  });

  it('takes {to, text, line} from the payload and pins the line', async () => {
    await helper.load(nodes, sendFlow(), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const result = nextInput('results');
    helper.getNode('send').receive({ payload: { to: ['+8613800138000'], text: 'pinned', line: 'goip02' } });
    const msg = await result;
    assert.equal(msg.payload.line, 'goip02');
    assert.deepEqual(msg.parts, { id: msg.parts.id, index: 0, count: 1, type: 'array', len: 1 });
    assert.equal(sims.ledger.sent[0].line, 'goip02');
  });

  it('fails bad input with a catchable reason and stores nothing', async () => {
    await helper.load(nodes, sendFlow(), { cfg: { devices: DEVICES } });
    await listening();
    const cfg = helper.getNode('cfg') as any;
    const cases: Array<[Msg, RegExp]> = [
      [{ payload: '', to: '13800138000' }, /text is empty/],
      [{ payload: 'x'.repeat(3001), to: '13800138000' }, /3001 UTF-8 bytes/],
      [{ payload: 'x' }, /no recipients/],
      [{ payload: 'x', to: '13800138000,not-a-number' }, /"not-a-number" is not a phone number/],
      [{ payload: 'x', to: '13800138000', line: 'goip77' }, /unknown line "goip77"/],
    ];
    for (const [msg, reason] of cases) {
      const caught = nextInput('caught');
      helper.getNode('send').receive(msg);
      assert.match((await caught).error.message, reason);
    }
    assert.deepEqual(await cfg.sending.pending(), { queued: 0, claimed: 0 });
  });

  it('without an SQLite driver says why on goip-send and in the log, fails its input, and receiving goes on', async () => {
    const needs = 'the durable send queue needs better-sqlite3 (installed with this package on Node 20+) or Node.js 22.13+ (built-in node:sqlite)';
    const statuses: Msg[] = [];
    const onStatus = ({ id, status }: { id: string; status: Msg }): void => {
      if (id === 'send') statuses.push(status);
    };
    events.on('node-status', onStatus);
    const restore = withoutDrivers(['better-sqlite3', 'node:sqlite']);
    try {
      await helper.load(nodes, sendFlow(), { cfg: { devices: DEVICES } });
    } finally {
      restore();
      events.off('node-status', onStatus);
    }
    assert.deepEqual(statuses, [{ fill: 'red', shape: 'ring', text: `store: ${needs}` }]);
    const errors = helper
      .log()
      .args.map(([entry]: [Msg]) => entry)
      .filter((entry: Msg) => entry.id === 'cfg' && entry.level === helper.log().ERROR);
    assert.deepEqual(
      errors.map((entry: Msg) => entry.msg),
      [`GoIP outbound queue not available: ${needs} (better-sqlite3: Cannot find module 'better-sqlite3'; node:sqlite: Cannot find module 'node:sqlite')`],
    );

    const caught = nextInput('caught');
    helper.getNode('send').receive({ payload: 'x', to: '13800138000' });
    assert.equal((await caught).error.message, `Error: goip-send: the outbound queue is not available (store: ${needs})`);

    const sims = await lines(await listening());
    const received = nextInput('out', (msg) => msg.event === 'sms');
    await sims.line('goip01')!.receiveSms('+8613800138000', 'still here');
    assert.equal((await received).payload, 'still here');
  });

  it('refuses a bad number rule at deploy and says so', async () => {
    await helper.load(nodes, sendFlow({ country: 'XX' }), { cfg: { devices: DEVICES } });
    await configStatus((s) => /listening/.test(s.text ?? ''));
    const caught = nextInput('caught');
    helper.getNode('send').receive({ payload: 'x', to: '13800138000' });
    assert.match((await caught).error.message, /unknown country code "XX"/);
  });
});
