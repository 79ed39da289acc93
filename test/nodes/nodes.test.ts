import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { formatKeepalive, formatReport } from '../../src/protocol';
import { configStatus, DEVICES, flow, helper, listening, type Msg, nextInput, nodes } from '../helpers/red';
import { UdpPeer } from '../helpers/udp';

describe('Node-RED nodes', function () {
  let peers: UdpPeer[] = [];

  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    await Promise.all(peers.map((p) => p.close()));
    peers = [];
    await helper.unload();
  });

  async function line(port: number, id = 'goip01', password = 'secret'): Promise<UdpPeer> {
    const p = await UdpPeer.open();
    peers.push(p);
    const ack = await p.request(formatKeepalive({ count: 1, id, password, fields: { signal: '20', gsm_status: 'LOGIN' } }), port);
    assert.equal(ack.text, 'reg:1;status:0;');
    return p;
  }

  it('delivers a received SMS with the msg contract, and the password nowhere', async () => {
    await helper.load(nodes, flow({}, { events: 'sms' }), { cfg: { devices: DEVICES } });
    const port = await listening();
    const gw = await line(port);
    const received = nextInput('out');
    const text = 'Hello; a:b\n你好 🎉';
    const ack = await gw.request(formatReport('RECEIVE', 1571812849, 'goip01', 'secret', { srcnum: '+8613800138000', msg: text }), port);
    assert.equal(ack.text, 'RECEIVE 1571812849 OK');
    const msg = await received;
    assert.equal(msg.topic, 'goip/goip01/sms');
    assert.equal(msg.event, 'sms');
    assert.equal(msg.line, 'goip01');
    assert.equal(msg.payload, text);
    assert.equal(msg.from, '+8613800138000');
    assert.equal(msg.goip.srcnum, '+8613800138000');
    assert.equal(msg.goip.reportId, '1571812849');
    assert.equal(JSON.stringify(msg).includes('secret'), false);
  });

  it('filters by event list (array or comma list) and by line', async () => {
    await helper.load(nodes, flow({}, { events: ['delivery', 'state'], line: 'goip02' }), { cfg: { devices: DEVICES } });
    const port = await listening();
    const one = await line(port, 'goip01', 'secret');
    const two = await line(port, 'goip02', 'other');
    const received: Msg[] = [];
    helper.getNode('out').on('input', (m: Msg) => received.push(m));
    await one.request('STATE:1;id:goip01;password:secret;gsm_remain_state:IDLE', port);
    await two.request(formatReport('RECEIVE', 2, 'goip02', 'other', { srcnum: '1', msg: 'x' }), port);
    const state = nextInput('out');
    await two.request('STATE:3;id:goip02;password:other;gsm_remain_state:ACTIVE', port);
    const msg = await state;
    assert.equal(msg.topic, 'goip/goip02/state');
    assert.equal(msg.payload, 'ACTIVE');
    assert.equal(received.length, 1, 'only goip02 state passed the filters');
  });

  it('emits online with the line as payload and shows lines online in the status', async () => {
    await helper.load(nodes, flow({}, { events: 'online,offline' }), { cfg: { devices: DEVICES } });
    const port = await listening();
    const online = nextInput('out');
    const status = nextInput('stOut', (m) => /1\/2 lines/.test(m.status?.text ?? ''));
    await line(port);
    const msg = await online;
    assert.equal(msg.event, 'online');
    assert.equal(msg.payload.id, 'goip01');
    assert.equal(msg.payload.online, true);
    assert.equal(msg.payload.signal, 20);
    assert.equal((await status).status.text, `listening :${port} · 1/2 lines`);
  });

  it('lists lines on the admin endpoint', async () => {
    await helper.load(nodes, flow(), { cfg: { devices: DEVICES } });
    const port = await listening();
    await line(port);
    const res = await helper.request().get('/goip/cfg/lines').expect(200);
    assert.equal(res.body.lines.length, 2);
    const first = res.body.lines.find((l: Msg) => l.id === 'goip01');
    assert.equal(first.online, true);
    assert.equal(first.signal, 20);
    assert.equal(typeof first.lastSeen, 'number');
    assert.equal(JSON.stringify(res.body).includes('secret'), false);
    await helper.request().get('/goip/nope/lines').expect(404);
  });

  it('shows a red status and keeps Node-RED alive when the port is taken', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', resolve));
    try {
      await helper.load(nodes, flow({ port: blocker.address().port }), { cfg: { devices: DEVICES } });
      const status = await configStatus((s) => s.fill === 'red');
      assert.match(status.text, /in use/);
    } finally {
      blocker.close();
    }
  });

  it('comes back on its own when the taken port is freed: retrying status, then listening, no redeploy', async () => {
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', resolve));
    const port = blocker.address().port;
    await helper.load(nodes, flow({ port }), { cfg: { devices: DEVICES } });
    const status = await configStatus((s) => s.fill === 'red');
    assert.equal(status.text, `UDP port ${port} is already in use · retrying`);
    const listeningAgain = configStatus((s) => /listening/.test(s.text ?? ''));
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await listeningAgain;
    await line(port);
  });

  it('gives every goip-in node its own message objects', async () => {
    const twoInputs = [...flow(), { id: 'in2', type: 'goip-in', z: 'tab', server: 'cfg', events: 'delivery', line: '', wires: [['out2']] }, { id: 'out2', type: 'helper', z: 'tab' }];
    await helper.load(nodes, twoInputs, { cfg: { devices: DEVICES } });
    const port = await listening();
    const gw = await line(port);
    const first = nextInput('out', (m) => m.event === 'delivery');
    const second = nextInput('out2');
    await gw.request('DELIVER:5;id:goip01;password:secret;sms_no:3;state:0;num:+8613800138000', port);
    const [a, b] = await Promise.all([first, second]);
    assert.notEqual(a.payload, b.payload);
    assert.notEqual(a.goip, b.goip);
    a.payload.to = 'changed by a flow';
    a.goip.num = 'changed';
    assert.equal(b.payload.to, '+8613800138000');
    assert.equal(b.goip.num, '+8613800138000');
  });

  it('reports a broken lines list as a configuration error without starting', async () => {
    await helper.load(nodes, flow(), { cfg: { devices: '[{"id":"a b","password":"x"}]' } });
    const cfg = helper.getNode('cfg') as any;
    assert.equal(cfg.server, null);
    const status = cfg.statusText();
    assert.equal(status.fill, 'red');
    assert.match(status.text, /^line id "a b" contains a space/);
  });

  it('rebinds the same port on a full redeploy', async () => {
    await helper.load(nodes, flow(), { cfg: { devices: DEVICES } });
    const port = await listening();
    await helper.unload();
    await helper.load(nodes, flow({ port }), { cfg: { devices: DEVICES } });
    assert.equal(await listening(), port);
    await line(port);
  });

});
