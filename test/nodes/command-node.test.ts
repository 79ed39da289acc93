import assert from 'node:assert/strict';
import { DEVICES, flow, helper, listening, type Msg, nextInput, nodes, suiteWithTestLines } from '../helpers/red';

/**
 * goip-command wired to a helper; the base flow's catch node sees errors and its status node also
 * watches the command node (the test helper loads a core node module once per node of its type,
 * so a second status node would fail to register).
 */
function commandFlow(commandExtra: Record<string, unknown> = {}, configExtra: Record<string, unknown> = {}): Msg[] {
  const f = flow({ commandTimeout: 0.05, commandRetries: 1, ...configExtra });
  const status = f.find((n) => n.id === 'st1') as Msg;
  status.scope = ['in1', 'cmd'];
  f.push(
    { id: 'cmd', type: 'goip-command', z: 'tab', server: 'cfg', line: '', command: '', wires: [['answers']], ...commandExtra },
    { id: 'answers', type: 'helper', z: 'tab' },
  );
  return f;
}

/** The next status the command node shows with `fill`. */
function commandStatus(fill: string): Promise<Msg> {
  return nextInput('stOut', (m) => m.status?.source?.id === 'cmd' && m.status?.fill === fill);
}

describe('goip-command node', function () {
  const { lines } = suiteWithTestLines({ num: '+8613800000001', expTime: 600, remainTime: 420 });

  it('answers get_gsm_num from msg.command / msg.line with the number in msg.payload, keeping the msg', async () => {
    await helper.load(nodes, commandFlow(), { cfg: { devices: DEVICES } });
    await lines(await listening());
    const answer = nextInput('answers');
    const status = commandStatus('green');
    helper.getNode('cmd').receive({ command: 'get_gsm_num', line: 'goip01', topic: 'q1', payload: 'ignored' });
    const msg = await answer;
    assert.equal(msg.payload, '+8613800000001');
    assert.equal(msg.topic, 'q1');
    assert.equal(msg.line, 'goip01');
    assert.equal((await status).status.text, 'get_gsm_num: +8613800000001');
  });

  it('answers GSM with a camelCase object; the node properties name the command and line', async () => {
    await helper.load(nodes, commandFlow({ command: 'GSM', line: 'goip02' }), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const answer = nextInput('answers');
    helper.getNode('cmd').receive({ payload: {} });
    const state = sims.line('goip02')!.state;
    assert.deepEqual((await answer).payload, {
      gsmNum: '+8613800000001',
      expTime: 600,
      remainTime: 420,
      gsmState: 'IDLE',
      imei: state.imei,
      outCallInterval: 0,
      moduleDown: false,
    });
  });

  it('passes set arguments from msg.payload and returns the value set', async () => {
    await helper.load(nodes, commandFlow({ line: 'goip01' }), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const answer = nextInput('answers');
    helper.getNode('cmd').receive({ command: 'SET_EXP_TIME', payload: { minutes: 90 } });
    assert.equal((await answer).payload, 90);
    assert.equal(sims.line('goip01')!.state.expTime, 90);
  });

  it('a line that stops answering fails the input with the timeout reason, to a catch node', async () => {
    await helper.load(nodes, commandFlow(), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    await sims.line('goip01')!.stop(); // the server still has it online: it just never answers
    const caught = nextInput('caught');
    const status = commandStatus('red');
    helper.getNode('cmd').receive({ command: 'get_gsm_num', line: 'goip01' });
    const msg = await caught;
    assert.equal(msg.error.message, 'CommandError: no answer from line goip01 to get_gsm_num after 2 tries (0.1 s)');
    assert.equal(msg.error.source.id, 'cmd');
    assert.equal((await status).status.text, 'get_gsm_num: no answer');
  });

  it('an ERROR answer reaches the catch node with the device text', async () => {
    await helper.load(nodes, commandFlow(), { cfg: { devices: DEVICES } });
    await lines(await listening());
    const caught = nextInput('caught');
    helper.getNode('cmd').receive({ command: 'ATCMD', line: 'goip01', payload: 'AT+CSQ' });
    assert.equal((await caught).error.message, 'CommandError: ATCMD failed on line goip01: AT_NOT_STARTED');
  });

  it('checks arguments, the command and the line before sending anything', async () => {
    await helper.load(nodes, commandFlow(), { cfg: { devices: DEVICES } });
    await lines(await listening());
    const server = (helper.getNode('cfg') as any).server;
    const sent: string[] = [];
    server.on('datagramOut', (text: string) => !text.startsWith('reg:') && sent.push(text));
    const cases: Array<[Msg, RegExp]> = [
      [{ command: 'set_imei', line: 'goip01', payload: { imei: '12345' } }, /set_imei needs imei: exactly 15 digits/],
      [{ command: 'module_ctl', line: 'goip01', payload: { value: '1013' } }, /one digit per line/],
      [{ command: 'USSD', line: 'goip01', payload: '' }, /USSD needs code/],
      [{ command: 'reboot_everything', line: 'goip01' }, /unknown GoIP command "reboot_everything"/],
      [{ line: 'goip01' }, /no command given/],
      [{ command: 'GSM' }, /no line given/],
      [{ command: 'GSM', line: 'goip77' }, /unknown line "goip77"/],
    ];
    for (const [msg, reason] of cases) {
      const caught = nextInput('caught');
      helper.getNode('cmd').receive(msg);
      assert.match((await caught).error.message, reason);
    }
    assert.deepEqual(sent, []);
  });

  it('keeps an ATSTART session open and closes it with ATSTOP on redeploy', async () => {
    await helper.load(nodes, commandFlow({ line: 'goip01' }), { cfg: { devices: DEVICES } });
    const sims = await lines(await listening());
    const answer = nextInput('answers');
    helper.getNode('cmd').receive({ command: 'atstart' });
    assert.equal((await answer).payload, true);
    assert.equal((helper.getNode('cfg') as any).commands.atSessions().length, 1);
    const stopped = new Promise<void>((resolve) => sims.line('goip01')!.on('command', (name) => name === 'ATSTOP' && resolve()));
    await helper.unload();
    await stopped;
  });
});
