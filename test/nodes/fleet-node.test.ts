import assert from 'node:assert/strict';
import { DEVICES, flow, helper, listening, type Msg, nextInput, nodes, suiteWithTestLines } from '../helpers/red';

const GROUPS = [{ name: 'cn', lines: ['goip01'], prefixes: ['+86'], numberFormat: 'national', country: 'CN' }];

function fleetFlow(configExtra: Record<string, unknown> = {}): Msg[] {
  const f = flow({ stepTimeout: 0.2, groups: GROUPS, balanceUssd: '*100#', balanceEvery: '1440', lowBalance: '20', ...configExtra }, { events: 'balance,lowbalance' });
  f.push({ id: 'send', type: 'goip-send', z: 'tab', server: 'cfg', line: '', to: '', toType: 'str', text: '', textType: 'str', country: 'CN', numberFormat: 'e164', wires: [['results']] }, { id: 'results', type: 'helper', z: 'tab' });
  return f;
}

describe('goip-config fleet properties, goip-send msg.group, the lines endpoint', function () {
  const { lines } = suiteWithTestLines({ smsRadioTimeMs: 5 });

  it('routes msg.group to its lines in its format, fails an unknown group, and shows the balance on goip-in and the lines endpoint', async () => {
    await helper.load(nodes, fleetFlow(), { cfg: { devices: DEVICES } });
    const balance = nextInput('out');
    const sims = await lines(await listening());
    const first = await balance;
    assert.equal(first.event, 'balance');
    assert.equal(first.payload.amount, 12.34);
    assert.equal(first.payload.text, 'Your balance is 12.34');

    const caught = nextInput('caught');
    helper.getNode('send').receive({ payload: 'x', to: '+447911123456', group: 'nope' });
    assert.match((await caught).error.message, /unknown group "nope"/);
    assert.deepEqual(await (helper.getNode('cfg') as any).sending.pending(), { queued: 0, claimed: 0 });

    const result = nextInput('results');
    helper.getNode('send').receive({ payload: 'x', to: '+8613800138000', group: 'cn' });
    const sent = (await result).payload;
    assert.equal(sent.status, 'sent');
    assert.equal(sent.line, 'goip01');
    assert.equal(sims.ledger.sent[0].number, '13800138000', "the group's national format");

    const res = await helper.request().get('/goip/cfg/lines').expect(200);
    for (const line of res.body.lines) {
      assert.ok('balance' in line && 'balanceAt' in line && 'number' in line && 'quarantine' in line, JSON.stringify(line));
      assert.equal(line.quarantine, null);
    }
    const withBalance = res.body.lines.filter((line: Msg) => line.balance === 12.34);
    assert.ok(withBalance.length >= 1 && typeof withBalance[0].balanceAt === 'number');
  });

  it('refuses an unknown line choice or a group naming an unknown line as a configuration error', async () => {
    for (const extra of [{ linePolicy: 'fastest' }, { groups: [{ name: 'x', lines: ['goip09'] }] }]) {
      await helper.load(nodes, fleetFlow(extra), { cfg: { devices: DEVICES } });
      const cfg = helper.getNode('cfg') as any;
      assert.equal(cfg.gateway, null, JSON.stringify(extra));
      assert.equal(cfg.statusText().fill, 'red');
      await helper.unload();
    }
  });
});
