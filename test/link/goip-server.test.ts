import assert from 'node:assert/strict';
import sinon from 'sinon';
import { formatKeepalive, formatReport } from '../../src/protocol';
import { type GoipEvent, GoipServer } from '../../src/link';
import { nextEvent, UdpPeer } from '../helpers/udp';

const DEVICES = [
  { id: 'goip01', password: 'secret' },
  { id: 'goip02', password: 'other' },
];

function keepalive(id = 'goip01', password = 'secret', count = 1, fields: Record<string, string> = {}): string {
  return formatKeepalive({ count, id, password, fields: { num: '', signal: '25', gsm_status: 'LOGIN', voip_status: 'LOGOUT', pro: 'CHINA MOBILE', ...fields } });
}

describe('GoipServer', () => {
  let server: GoipServer;
  let port: number;
  let peers: UdpPeer[];
  let events: GoipEvent[];

  async function peer(): Promise<UdpPeer> {
    const p = await UdpPeer.open();
    peers.push(p);
    return p;
  }

  async function start(options: Partial<ConstructorParameters<typeof GoipServer>[0]> = {}): Promise<void> {
    server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: DEVICES, ...options });
    server.on('event', (e) => events.push(e));
    port = (await server.start()).port;
  }

  /** Registers `p` as line `id` and returns once the ack arrived. */
  async function register(p: UdpPeer, id = 'goip01', password = 'secret'): Promise<void> {
    const ack = await p.request(keepalive(id, password), port);
    assert.equal(ack.text, 'reg:1;status:0;');
  }

  beforeEach(() => {
    peers = [];
    events = [];
  });
  afterEach(async () => {
    sinon.restore();
    await Promise.all(peers.map((p) => p.close()));
    await server?.stop();
  });

  describe('registration', () => {
    it('acks a valid keepalive with the spec ok-code, learns the address and goes online', async () => {
      await start();
      const line = await peer();
      const online = nextEvent<[GoipEvent]>(server, 'event', (e) => e.event === 'online');
      const ack = await line.request(keepalive('goip01', 'secret', 27), port);
      assert.equal(ack.text, 'reg:27;status:0;');
      const [event] = await online;
      assert.equal(event.line, 'goip01');
      const info = server.line('goip01');
      assert.ok(info);
      assert.equal(info.online, true);
      assert.equal(info.port, line.port);
      assert.equal(info.signal, 25);
      assert.equal(info.signalDbm, -63);
      assert.equal(info.carrier, 'CHINA MOBILE');
      assert.equal(server.onlineCount(), 1);
      const keep = events.find((e) => e.event === 'keepalive');
      assert.ok(keep);
      assert.equal(keep.fields.pass, undefined);
      assert.equal(JSON.stringify(keep).includes('secret'), false, 'no password in events');
    });

    it('uses a configured ok-code (vendor 200) and rejects with 404 beside it', async () => {
      await start({ ackStatus: '200' });
      const line = await peer();
      assert.equal((await line.request(keepalive(), port)).text, 'reg:1;status:200;');
      const stranger = await peer();
      assert.equal((await stranger.request(keepalive('goip01', 'wrong'), port)).text, 'reg:1;status:404;');
    });

    it('refuses unknown ids and wrong passwords with a non-ok status and never registers them', async () => {
      await start();
      const p = await peer();
      assert.equal((await p.request(keepalive('goip01', 'wrong', 5), port)).text, 'reg:5;status:1;');
      const q = await peer();
      assert.equal((await q.request(keepalive('nobody', 'secret', 6), port)).text, 'reg:6;status:1;');
      assert.equal(server.onlineCount(), 0);
      assert.equal(server.line('goip01')?.address, null);
      assert.equal(server.counters.rejected, 2);
      assert.equal(events.length, 0);
    });

    it('each line of a multi-line gateway registers from its own port', async () => {
      await start();
      const one = await peer();
      const two = await peer();
      await register(one, 'goip01', 'secret');
      await register(two, 'goip02', 'other');
      assert.equal(server.line('goip01')?.port, one.port);
      assert.equal(server.line('goip02')?.port, two.port);
      assert.equal(server.onlineCount(), 2);
    });

    it('follows a line to its new address (NAT rebinding) on an authenticated keepalive', async () => {
      await start();
      const before = await peer();
      await register(before);
      const after = await peer();
      await register(after);
      assert.equal(server.line('goip01')?.port, after.port);
      assert.ok(server.sendToLine('goip01', 'get_gsm_num 1 secret'));
      assert.equal((await after.next()).text, 'get_gsm_num 1 secret');
    });

    it('goes offline after the configured silence and online again on the next keepalive', async () => {
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
      await start({ offlineAfterMs: 92_000 });
      const line = await peer();
      await register(line);
      clock.tick(91_000);
      assert.equal(server.line('goip01')?.online, true);
      const offline = nextEvent<[GoipEvent]>(server, 'event', (e) => e.event === 'offline');
      clock.tick(2_000);
      const [event] = await offline;
      assert.equal(event.line, 'goip01');
      assert.equal(server.line('goip01')?.online, false);
      clock.restore();
      await register(line);
      assert.equal(server.line('goip01')?.online, true);
      assert.equal(events.filter((e) => e.event === 'online').length, 2);
    });
  });

  describe('reports', () => {
    it('acks a RECEIVE exactly as the protocol reference says and emits the SMS once', async () => {
      await start();
      const line = await peer();
      await register(line);
      const text = 'a;b:c\n中文 😀';
      const ack = await line.request(formatReport('RECEIVE', 1571812849, 'goip01', 'secret', { srcnum: '1380013800', msg: text }), port);
      assert.equal(ack.text, 'RECEIVE 1571812849 OK');
      const sms = events.filter((e) => e.event === 'sms');
      assert.equal(sms.length, 1);
      assert.equal(sms[0].payload, text);
      assert.equal(sms[0].from, '1380013800');
      assert.equal(sms[0].line, 'goip01');
      assert.equal(sms[0].fields.reportId, '1571812849');
      assert.equal(sms[0].fields.password, undefined);
    });

    it('re-acks a resent report but emits it once', async () => {
      await start();
      const line = await peer();
      await register(line);
      const datagram = formatReport('RECEIVE', -77, 'goip01', 'secret', { srcnum: '+1', msg: 'once' });
      for (let i = 0; i < 4; i++) assert.equal((await line.request(datagram, port)).text, 'RECEIVE -77 OK');
      assert.equal(events.filter((e) => e.event === 'sms').length, 1);
      assert.equal(server.counters.duplicates, 3);
      assert.equal(server.line('goip01')?.counters.duplicates, 3);
    });

    it('acks every report verb of the protocol reference with VERB id OK, and AT with nothing', async () => {
      await start();
      const line = await peer();
      await register(line);
      const packets: Array<[string, string | null]> = [
        ['DELIVER:1571812803;id:goip01;password:secret;sms_no:32;state:0;num:+861380013800', 'DELIVER 1571812803 OK'],
        ['STATE:446;id:goip01;password:secret;gsm_remain_state:DIALING:999999999', 'STATE 446 OK'],
        ['RECORD:1571812801;id:goip01;password:secret;dir:1;num:1380013800', 'RECORD 1571812801 OK'],
        ['REMAIN:7568;id:goip01;password:secret;gsm_remain_time:-1', 'REMAIN 7568 OK'],
        ['HANGUP:1571812814;id:goip01;password:secret;num:,cause:Normal call clearing', 'HANGUP 1571812814 OK'],
        ['EXPIRY:1571812871;id:goip01;password:secret;exp:0', 'EXPIRY 1571812871 OK'],
        ['CELLS:34347;id:goip01;password:secret;lists:689,638,783,785,640,', 'CELLS 34347 OK'],
        ['CELLS:34350;goip01;secret;123,456,789,10,', 'CELLS 34350 OK'],
        ['CELLINFO:34349;id:goip01;password:secret;info:LAC:7E5,CELL ID:5E5B', 'CELLINFO 34349 OK'],
        ['BCCH:34348;id:goip01;password:secret;bcch:689,638,783,785,640,', 'BCCH 34348 OK'],
        ['CGATT:34351;id:goip01;password:secret;cgatt:1', 'CGATT 34351 OK'],
        ['USSN:34352;id:goip01;password:secret;msg:Your bonus: 5 MB', 'USSN 34352 OK'],
        ['SIGNAL:34353;id:goip01;password:secret;value:20', 'SIGNAL 34353 OK'],
      ];
      for (const [packet, expected] of packets) {
        assert.equal((await line.request(packet, port)).text, expected, packet);
      }
      // AT gets no reply: a following keepalive's ack is the next datagram.
      await line.send('AT:20;count:1;id:goip01;password:secret;receive:write:AT+CREG?', port);
      assert.equal((await line.request(keepalive('goip01', 'secret', 2), port)).text, 'reg:2;status:0;');
      const names = events.map((e) => e.event).filter((e) => !['online', 'keepalive'].includes(e));
      assert.deepEqual(names, ['delivery', 'state', 'record', 'remain', 'hangup', 'expiry', 'cells', 'cells', 'cellinfo', 'bcch', 'cgatt', 'ussn', 'signal', 'at']);
      const delivery = events.find((e) => e.event === 'delivery');
      assert.deepEqual(delivery?.payload, { to: '+861380013800', state: 0, status: 'delivered', smsNo: 32, messageId: null });
      assert.deepEqual(events.find((e) => e.event === 'hangup')?.payload, { num: '', cause: 'Normal call clearing' });
    });

    it('keeps acking and telling the other listeners when one listener throws, and reports it', async () => {
      await start();
      const line = await peer();
      await register(line);
      const failures: Array<[string, string]> = [];
      server.on('listenerError', (err, name) => failures.push([err.message, name]));
      server.prependListener('event', () => {
        throw new Error('bad listener');
      });
      const ack = await line.request(formatReport('RECEIVE', 12, 'goip01', 'secret', { srcnum: '+1', msg: 'still delivered' }), port);
      assert.equal(ack.text, 'RECEIVE 12 OK');
      assert.equal(events.find((e) => e.event === 'sms')?.payload, 'still delivered');
      assert.deepEqual(failures, [['bad listener', 'event']]);
      assert.equal(server.counters.listenerErrors, 1);
      assert.equal((await line.request(keepalive('goip01', 'secret', 2), port)).text, 'reg:2;status:0;', 'the socket handler lives on');
    });

    it('answers bad credentials with VERB id ERROR at the registered address, emits nothing', async () => {
      await start();
      const line = await peer();
      await register(line);
      const ack = await line.request(formatReport('RECEIVE', 5, 'goip01', 'wrong', { srcnum: '1', msg: 'x' }), port);
      assert.equal(ack.text, 'RECEIVE 5 ERROR password');
      assert.equal(events.filter((e) => e.event === 'sms').length, 0);
      assert.equal(server.line('goip01')?.counters.rejected, 1);
    });

    it('never answers a report from a spoofed or unregistered source', async () => {
      await start();
      const line = await peer();
      await register(line);
      const spoofer = await peer();
      let sentToOthers = 0;
      server.on('datagramOut', (_t, _a, p) => {
        if (p !== line.port) sentToOthers++;
      });
      await spoofer.send(formatReport('RECEIVE', 6, 'goip01', 'wrong', { srcnum: '1', msg: 'x' }), port);
      await spoofer.send(formatReport('RECEIVE', 7, 'nobody', 'x', { srcnum: '1', msg: 'x' }), port);
      await spoofer.send('OK 1 1 5\n', port);
      // The server handles datagrams in order: once the line's ack arrives, the spoofer's are done.
      await register(line);
      assert.equal(sentToOthers, 0);
      assert.equal(spoofer.received.length, 0);
      assert.equal(server.counters.strayReplies, 1);
      assert.equal(events.filter((e) => e.event === 'sms').length, 0);
    });

    it('acks an authenticated report to the registered address, not to a spoofed source port', async () => {
      await start();
      const line = await peer();
      await register(line);
      const other = await peer();
      await other.send(formatReport('RECEIVE', 8, 'goip01', 'secret', { srcnum: '1', msg: 'hi' }), port);
      assert.equal((await line.next()).text, 'RECEIVE 8 OK');
      assert.equal(other.received.length, 0);
    });

    it('registers a line from its first authenticated report (server restarted between keepalives)', async () => {
      await start();
      const line = await peer();
      const ack = await line.request(formatReport('RECEIVE', 9, 'goip02', 'other', { srcnum: '1', msg: 'early' }), port);
      assert.equal(ack.text, 'RECEIVE 9 OK');
      assert.equal(server.line('goip02')?.port, line.port);
      assert.equal(server.line('goip02')?.online, true);
    });

    it('forgets report ids after the window and keeps at most dedupMaxEntries per line', async () => {
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
      await start({ dedupWindowMs: 10_000, dedupMaxEntries: 3, offlineAfterMs: 1e9 });
      const line = await peer();
      await register(line);
      const sms = (id: number): string => formatReport('RECEIVE', id, 'goip01', 'secret', { srcnum: '1', msg: `m${id}` });
      await line.request(sms(1), port);
      clock.tick(11_000);
      await line.request(sms(1), port);
      assert.equal(events.filter((e) => e.event === 'sms').length, 2, 'outside the window the same id is new');
      for (const id of [2, 3, 4, 5]) await line.request(sms(id), port);
      await line.request(sms(2), port);
      assert.equal(events.filter((e) => e.event === 'sms').length, 7, 'the oldest entry was evicted by the cap');
    });
  });

  describe('replies and sending', () => {
    it('routes replies by source address to the line, and sends only to registered lines', async () => {
      await start();
      const line = await peer();
      await register(line);
      const reply = nextEvent<[string, unknown]>(server, 'reply');
      await line.send('get_gsm_num 3 +8613800138000', port);
      const [lineId, message] = await reply;
      assert.equal(lineId, 'goip01');
      assert.deepEqual(message, { kind: 'reply', verb: 'get_gsm_num', sendId: '3', rest: '+8613800138000', args: ['+8613800138000'] });
      assert.equal(server.sendToLine('goip02', 'x'), false, 'never registered');
      assert.equal(server.sendToLine('nobody', 'x'), false);
      assert.equal(server.passwordOf('goip01'), 'secret');
    });
  });

  describe('socket', () => {
    it('rejects start with a readable error when the port is taken, and closes cleanly', async () => {
      await start();
      const second = new GoipServer({ bind: '127.0.0.1', port, devices: DEVICES });
      await assert.rejects(second.start(), /UDP port \d+ is already in use/);
      await second.stop();
    });

    it('rebinds the same port right after stop', async () => {
      await start();
      const taken = port;
      await server.stop();
      server = new GoipServer({ bind: '127.0.0.1', port: taken, devices: DEVICES });
      assert.equal((await server.start()).port, taken);
    });
  });
});
