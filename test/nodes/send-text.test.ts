/**
 * goip-send's encoding guard and personalised batches in a real Node-RED, the SMS on the
 * simulated lines' own record.
 */
import assert from 'node:assert/strict';
import { DEVICES, flow, helper, listening, type Msg, nextInput, nodes, suiteWithTestLines } from '../helpers/red';

function sendFlow(sendExtra: Record<string, unknown> = {}): Msg[] {
  const f = flow({ stepTimeout: 0.2 });
  f.push(
    { id: 'send', type: 'goip-send', z: 'tab', server: 'cfg', line: '', to: '', toType: 'str', text: '', textType: 'str', country: 'CN', numberFormat: 'e164', wires: [['join1']], ...sendExtra },
    { id: 'join1', type: 'join', z: 'tab', mode: 'auto', build: 'object', property: 'payload', propertyType: 'msg', key: 'topic', joiner: '\\n', joinerType: 'str', accumulate: false, timeout: '', count: '', wires: [['joined']] },
    { id: 'joined', type: 'helper', z: 'tab' },
  );
  return f;
}

describe('goip-send node: texts', function () {
  const { lines } = suiteWithTestLines({ smsRadioTimeMs: 5 });

  async function caughtError(msg: Msg): Promise<{ message: string; code?: string }> {
    const caught = nextInput('caught');
    helper.getNode('send').receive(msg);
    return (await caught).error;
  }

  it('gsm7 fails a text with characters GSM-7 lacks, naming them, and queues nothing; maxParts refuses a longer text', async () => {
    await helper.load(nodes, sendFlow({ encoding: 'gsm7' }), { cfg: { devices: DEVICES } });
    await listening();
    const notGsm = await caughtError({ payload: 'Hello ’world’', to: '13800138000' });
    assert.equal(notGsm.code, 'NOT_GSM7');
    assert.match(notGsm.message, /characters GSM-7 lacks: "’" \(U\+2019\)/);
    const tooLong = await caughtError({ payload: { text: 'a'.repeat(161), maxParts: 1 }, to: '13800138000' });
    assert.equal(tooLong.code, 'TOO_LONG');
    assert.match(tooLong.message, /needs 2 SMS parts \(GSM-7\); maxParts allows 1/);
    // The node's own property wins over msg.payload.encoding, as every goip-send input.
    const still = await caughtError({ payload: { text: '’', encoding: 'auto' }, to: '13800138000' });
    assert.equal(still.code, 'NOT_GSM7');
    assert.deepEqual(await (helper.getNode('cfg') as any).sending.pending(), { queued: 0, claimed: 0 });
  });

  it('transliterate sends "Hello \'world\'" as one GSM-7 part and leaves Grüße as it is; results carry encoding and parts', async () => {
    await helper.load(nodes, sendFlow(), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const bad = await caughtError({ payload: { text: 'x', encoding: 'latin1' }, to: '13800138000' });
    assert.match(bad.message, /encoding must be auto, gsm7, transliterate, got "latin1"/);
    const joined = nextInput('joined');
    helper.getNode('send').receive({ payload: { text: 'Hello ’world’', encoding: 'transliterate' }, to: '13800138000', topic: 'a' });
    const [result] = (await joined).payload as Msg[];
    assert.deepEqual([result.status, result.encoding, result.parts, result.segments], ['sent', 'GSM-7', 1, 1]);
    const again = nextInput('joined');
    helper.getNode('send').receive({ payload: { text: 'Grüße', encoding: 'transliterate' }, to: '13800138000', topic: 'b' });
    assert.equal(((await again).payload as Msg[])[0].encoding, 'GSM-7');
    assert.deepEqual(sims.ledger.sent.map((sms) => sms.text), ["Hello 'world'", 'Grüße']);
  });

  it('a personalised batch of 3 with one missing variable: 2 sent with their own texts, 1 failed TEMPLATE_VAR', async () => {
    await helper.load(nodes, sendFlow(), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const joined = nextInput('joined');
    const to = [
      { number: '13800138000', vars: { name: 'Ann & Bo', code: '1111' } },
      { number: '13900139000', vars: { name: 'Chen' } },
      { number: '13700137000', vars: { name: 'Dee', code: '3333' } },
    ];
    helper.getNode('send').receive({ payload: { text: 'Hello {{name}}, your code is {{code}}', to }, topic: 'p' });
    const results = (await joined).payload as Msg[];
    assert.deepEqual(
      results.map((r) => [r.to, r.status, r.code ?? null]),
      [['+8613800138000', 'sent', null], ['+8613900139000', 'failed', 'TEMPLATE_VAR'], ['+8613700137000', 'sent', null]],
    );
    assert.match(results[1].error, /^TEMPLATE_VAR: no value for \{\{code\}\}/);
    assert.deepEqual(
      sims.ledger.sent.map((sms) => [sms.number, sms.text]).sort(),
      [['+8613700137000', 'Hello Dee, your code is 3333'], ['+8613800138000', 'Hello Ann & Bo, your code is 1111']],
    );
    assert.deepEqual(sims.ledger.duplicates(), []);
  });

  it('missing "empty" renders a lacking variable as nothing and sends all', async () => {
    await helper.load(nodes, sendFlow(), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const joined = nextInput('joined');
    helper.getNode('send').receive({ payload: { text: 'Hi {{name}}!', to: [{ number: '13800138000', vars: { name: 'Al' } }, { number: '13900139000' }], missing: 'empty' }, topic: 'e' });
    assert.deepEqual(((await joined).payload as Msg[]).map((r) => r.status), ['sent', 'sent']);
    assert.deepEqual(sims.ledger.sent.map((sms) => sms.text).sort(), ['Hi !', 'Hi Al!']);
  });
});
