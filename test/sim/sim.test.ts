import assert from 'node:assert/strict';
import sinon from 'sinon';
import {
  formatBulkDone,
  formatBulkMessage,
  formatBulkPassword,
  formatBulkSend,
  formatCommand,
  formatReportAck,
  parseDeviceMessage,
} from '../../src/protocol';
import { type GoipEvent, GoipServer } from '../../src/link';
import { BULK_ERRORS, Ledger, mulberry32, type ReportResult, SimLine, type SimLineOptions, startLines } from '../../src/sim';
import { nextEvent, type Received, UdpPeer } from '../helpers/udp';

const PASSWORD = 'secret';
const FAKE_TIMERS = { toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] as Array<'setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval' | 'Date'> };

/** Matches the datagram starting with `prefix`. */
const startsWith =
  (prefix: string) =>
  (m: Received): boolean =>
    m.text.startsWith(prefix);

describe('GoIP line simulator', () => {
  let servers: GoipServer[];
  let peers: UdpPeer[];
  let lines: SimLine[];

  beforeEach(() => {
    servers = [];
    peers = [];
    lines = [];
  });
  afterEach(async () => {
    sinon.restore();
    await Promise.all(lines.map((l) => l.stop()));
    await Promise.all(peers.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function goipServer(ids = ['goip01']): Promise<{ server: GoipServer; port: number }> {
    const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: ids.map((id) => ({ id, password: PASSWORD })) });
    servers.push(server);
    const { port } = await server.start();
    return { server, port };
  }

  /** A raw UDP socket playing the SMS server by hand. */
  async function rawServer(): Promise<UdpPeer> {
    const peer = await UdpPeer.open();
    peers.push(peer);
    return peer;
  }

  async function simLine(serverPort: number, options: Partial<SimLineOptions> = {}): Promise<SimLine> {
    const line = new SimLine({ id: 'goip01', password: PASSWORD, server: { host: '127.0.0.1', port: serverPort }, keepaliveIntervalMs: 60_000, ...options });
    lines.push(line);
    await line.start();
    return line;
  }

  function linePort(line: SimLine): number {
    const address = line.address;
    assert.ok(address, 'line is started');
    return address.port;
  }

  /** Sends `text` from the raw server to the line; resolves with the first reply starting with `expect`. */
  function ask(peer: UdpPeer, line: SimLine, text: string, expect: string): Promise<string> {
    return peer.request(text, linePort(line), startsWith(expect)).then((m) => m.text);
  }

  describe('with the real GoipServer', () => {
    it('registers on the keepalive ack and is rejected with a wrong password', async () => {
      const { server, port } = await goipServer();
      const line = new SimLine({ id: 'goip01', password: PASSWORD, server: { host: '127.0.0.1', port }, num: '+8613900000001', signal: 21 });
      lines.push(line);
      const registered = nextEvent<[string]>(line, 'registered');
      await line.start();
      assert.deepEqual(await registered, ['1']);
      assert.equal(line.registered, true);
      const info = server.line('goip01');
      assert.ok(info);
      assert.equal(info.online, true);
      assert.equal(info.port, linePort(line));
      assert.equal(info.signal, 21);
      assert.equal(info.num, '+8613900000001');
      assert.equal(info.carrier, 'CHINA MOBILE');

      const impostor = new SimLine({ id: 'goip01', password: 'wrong', server: { host: '127.0.0.1', port } });
      lines.push(impostor);
      const rejected = nextEvent<[string]>(impostor, 'rejected');
      await impostor.start();
      assert.deepEqual(await rejected, ['1']);
      assert.equal(impostor.registered, false);
    });

    it('delivers a RECEIVE with ; : newline, Chinese and emoji exactly once, and sees it acked', async () => {
      const { server, port } = await goipServer();
      const line = await simLine(port);
      await nextEvent(line, 'registered');
      const sms: GoipEvent[] = [];
      server.on('event', (e) => e.event === 'sms' && sms.push(e));
      const text = 'price: 12;30\nsecond line 你好，世界 😀👍🏽 key:value;';
      const result = await line.receiveSms('+8613800138000', text, { smscnum: '+8613800100500' });
      assert.equal(result.acked, true);
      assert.equal(result.attempts, 1);
      assert.equal(result.error, undefined);
      assert.equal(sms.length, 1);
      assert.equal(sms[0].payload, text);
      assert.equal(sms[0].from, '+8613800138000');
      assert.equal(sms[0].fields.smscnum, '+8613800100500');
      assert.equal(sms[0].fields.reportId, result.reportId);
      assert.deepEqual(
        line.ledger.acks.map((a) => [a.verb, a.reportId, a.ok]),
        [['RECEIVE', result.reportId, true]],
      );
    });

    it('counts report ids down and accepts the spec spelling pass: (old firmware)', async () => {
      const { server, port } = await goipServer();
      const line = await simLine(port, { reportPasswordKey: 'pass', reportIdStart: 1270197307 });
      const sent: string[] = [];
      line.on('datagramOut', (t) => t.startsWith('RECEIVE:') && sent.push(t));
      const sms: GoipEvent[] = [];
      server.on('event', (e) => e.event === 'sms' && sms.push(e));
      const first = await line.receiveSms('+8613513415667', 'just a test');
      const second = await line.receiveSms('BANK', 'second');
      assert.deepEqual([first.reportId, second.reportId], ['1270197307', '1270197306']);
      assert.equal(sent[0], 'RECEIVE:1270197307;id:goip01;pass:secret;srcnum:+8613513415667;msg:just a test');
      assert.deepEqual(
        sms.map((e) => [e.from, e.payload]),
        [
          ['+8613513415667', 'just a test'],
          ['BANK', 'second'],
        ],
      );
    });

    it('under 30% seeded loss every RECEIVE ends acked or reported unacked, and the server emits each at most once', async () => {
      const { server, port } = await goipServer();
      const line = await simLine(port, { keepaliveIntervalMs: 20, receiveRetryMs: 25, receiveRetries: 3, faults: { loss: 0.3, seed: 42 } });
      const emitted = new Map<string, number>();
      server.on('event', (e) => e.event === 'sms' && emitted.set(e.payload as string, (emitted.get(e.payload as string) ?? 0) + 1));
      const texts = Array.from({ length: 40 }, (_, i) => `message ${i}; 测试 ${i}`);
      const results = await Promise.all(texts.map((t) => line.receiveSms('+8613800138000', t)));

      const acked = results.filter((r) => r.acked);
      assert.ok(acked.length > 20, `most are acked (${acked.length}/40)`);
      assert.ok(line.faultCounters.out.dropped + line.faultCounters.in.dropped > 0, 'loss happened');
      results.forEach((r, i) => {
        assert.ok(r.attempts >= 1 && r.attempts <= 4, `attempts ${r.attempts}`);
        if (r.acked) assert.equal(emitted.get(texts[i]), 1, `acked "${texts[i]}" was emitted once`);
        else assert.equal(r.attempts, 4, 'an unacked report was resent 3 times');
      });
      for (const [text, count] of emitted) assert.equal(count, 1, `"${text}" emitted once`);
      assert.ok(server.counters.duplicates > 0, 'some resends reached the server twice');
    });

    it('duplication and reordering never make the server emit twice', async () => {
      const { server, port } = await goipServer();
      const line = await simLine(port, { receiveRetryMs: 200, faults: { duplicate: 0.5, reorder: 0.3, reorderHoldMs: 10, seed: 3 } });
      const emitted: string[] = [];
      server.on('event', (e) => e.event === 'sms' && emitted.push(e.payload as string));
      const texts = Array.from({ length: 20 }, (_, i) => `dup ${i}`);
      const results = await Promise.all(texts.map((t) => line.receiveSms('10086', t)));
      assert.ok(results.every((r) => r.acked));
      assert.ok(line.faultCounters.out.duplicated > 0 && line.faultCounters.out.reordered > 0);
      assert.deepEqual([...emitted].sort(), [...texts].sort());
    });

    it('runs a bulk session the server drives and reports delivery', async () => {
      const { server, port } = await goipServer();
      const line = await simLine(port, { smsRadioTimeMs: 10, deliveryReportAfterMs: 5 });
      await nextEvent(line, 'registered');
      const reply = (verb: string): Promise<string> =>
        nextEvent<[string, { verb: string }]>(server, 'reply', (_, r) => r.verb === verb).then(([, r]) => JSON.stringify(r));
      const text = '验证码 123456; valid: 5 min';

      let next = reply('PASSWORD');
      server.sendToLine('goip01', formatBulkMessage(77, text));
      await next;
      next = reply('SEND');
      server.sendToLine('goip01', formatBulkPassword(77, PASSWORD));
      await next;
      const waited = reply('WAIT');
      const ok = nextEvent<[string, { verb: string; args: string[] }]>(server, 'reply', (_, r) => r.verb === 'OK');
      const delivery = nextEvent<[GoipEvent]>(server, 'event', (e) => e.event === 'delivery');
      server.sendToLine('goip01', formatBulkSend(77, 1, '+8613800138000'));
      await waited;
      const [, okReply] = await ok;
      assert.deepEqual(okReply.args, ['1', '1'], 'OK $sendid $telid $sms_no');
      const [event] = await delivery;
      assert.deepEqual(event.payload, { to: '+8613800138000', state: 0, status: 'delivered', smsNo: 1, messageId: null });
      assert.equal(line.ledger.timesSent('+8613800138000', text), 1);
    });

    it('startLines starts a fleet that registers, sharing one ledger', async () => {
      const ids = ['goip01', 'goip02', 'goip03'];
      const { server, port } = await goipServer(ids);
      const fleet = await startLines({ count: 3, password: PASSWORD, server: { host: 'localhost', port } });
      try {
        await fleet.waitRegistered(5000);
        assert.deepEqual(
          fleet.lines.map((l) => l.id),
          ids,
        );
        assert.equal(server.onlineCount(), 3);
        assert.ok(fleet.lines.every((l) => l.ledger === fleet.ledger));
        assert.equal(new Set(fleet.lines.map((l) => linePort(l))).size, 3, 'one socket per line');
      } finally {
        await fleet.stop();
      }
      assert.ok(fleet.lines.every((l) => l.address === null && !l.registered));
    });
  });

  describe('bulk session (raw server socket)', () => {
    it('MSG / PASSWORD / SEND / WAIT / pushed OK / DONE, and the telid memory answers without sending again', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { smsRadioTimeMs: 30 });
      const text = 'hello 你好 😀';
      assert.equal(await ask(peer, line, formatBulkMessage(11, text), 'PASSWORD'), 'PASSWORD 11\n');
      assert.equal(await ask(peer, line, formatBulkPassword(11, 'wrong'), 'ERROR'), 'ERROR 11 PASSWORD\n');
      assert.equal(await ask(peer, line, formatBulkPassword(11, PASSWORD), 'SEND'), 'SEND 11\n');

      assert.equal(await ask(peer, line, formatBulkSend(11, 1, '+8613800138000'), 'WAIT'), 'WAIT 11 1\n');
      assert.equal((await peer.next(startsWith('OK'))).text, 'OK 11 1 1\n');
      assert.equal(await ask(peer, line, formatBulkSend(11, 1, '+8613800138000'), 'OK'), 'OK 11 1 1\n', 'answered from memory');

      assert.equal(await ask(peer, line, formatBulkSend(11, 2, '+8613800138001'), 'WAIT'), 'WAIT 11 2\n');
      assert.equal(await ask(peer, line, formatBulkSend(11, 2, '+8613800138001'), 'WAIT'), 'WAIT 11 2\n', 'still waiting');
      assert.equal((await peer.next(startsWith('OK'))).text, 'OK 11 2 2\n');
      assert.equal(await ask(peer, line, formatBulkSend(11, 2, '+8613800138001'), 'OK'), 'OK 11 2 2\n');

      const closed = nextEvent<[number, string]>(line, 'sessionClosed');
      assert.equal(await ask(peer, line, formatBulkDone(11), 'DONE'), 'DONE 11\n');
      assert.deepEqual(await closed, [11, 'done']);
      assert.equal(await ask(peer, line, formatBulkSend(11, 3, '+8613800138002'), 'ERROR'), 'ERROR 11 SENDID\n');

      assert.equal(line.ledger.timesSent('+8613800138000', text), 1);
      assert.equal(line.ledger.timesSent('+8613800138001', text), 1);
      assert.deepEqual(line.ledger.duplicates(), []);
      assert.deepEqual(
        line.ledger.sent.map((s) => [s.line, s.sendId, s.telId, s.smsNo]),
        [
          ['goip01', 11, 1, 1],
          ['goip01', 11, 2, 2],
        ],
      );
    });

    it('a telid pushed out of the last-N memory is sent again (a real duplicate)', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { smsRadioTimeMs: 1, telidMemory: 2 });
      await ask(peer, line, formatBulkMessage(5, 'x'), 'PASSWORD');
      await ask(peer, line, formatBulkPassword(5, PASSWORD), 'SEND');
      for (const telId of [1, 2, 3]) {
        await ask(peer, line, formatBulkSend(5, telId, `+100${telId}`), 'WAIT');
        await peer.next(startsWith(`OK 5 ${telId} `));
      }
      assert.equal(await ask(peer, line, formatBulkSend(5, 1, '+1001'), 'WAIT'), 'WAIT 5 1\n');
      await peer.next(startsWith('OK 5 1 '));
      assert.equal(line.ledger.timesSent('+1001', 'x'), 2);
      assert.deepEqual(
        line.ledger.duplicates().map((d) => [d.number, d.count]),
        [['+1001', 2]],
      );
    });

    it('refuses a 6th session with too_many_sends_in_server until one is DONE', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port);
      for (let sendId = 21; sendId <= 25; sendId++) {
        assert.equal(await ask(peer, line, formatBulkMessage(sendId, `batch ${sendId}`), 'PASSWORD'), `PASSWORD ${sendId}\n`);
      }
      assert.equal(line.openSessions, 5);
      assert.equal(await ask(peer, line, formatBulkMessage(26, 'batch 26'), 'ERROR'), `ERROR 26 ${BULK_ERRORS.tooMany}\n`);
      assert.equal(await ask(peer, line, formatBulkMessage(23, 'batch 23'), 'PASSWORD'), 'PASSWORD 23\n', 'a retransmitted MSG is no new session');
      await ask(peer, line, formatBulkDone(21), 'DONE');
      assert.equal(await ask(peer, line, formatBulkMessage(26, 'batch 26'), 'PASSWORD'), 'PASSWORD 26\n');
    });

    it('checks the UTF-8 byte length of MSG, refuses when logged out and fails injected numbers', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { smsRadioTimeMs: 1, failNumbers: new Set(['+8600000000']), firmware: 'old' });
      const text = '你好';
      assert.equal(await ask(peer, line, `MSG 12 ${text.length} ${text}\n`, 'ERROR'), `ERROR 12 ${BULK_ERRORS.length}\n`);
      assert.equal(await ask(peer, line, formatBulkMessage(13, text), 'PASSWORD'), 'PASSWORD 13\n');
      await ask(peer, line, formatBulkPassword(13, PASSWORD), 'SEND');
      await ask(peer, line, formatBulkSend(13, 1, '+8600000000'), 'WAIT');
      assert.equal((await peer.next(startsWith('ERROR'))).text, 'ERROR 13 1 errorstatus:1\n');
      await ask(peer, line, formatBulkSend(13, 2, '+8611111111'), 'WAIT');
      assert.equal((await peer.next(startsWith('OK'))).text, 'OK 13 2\n', 'old firmware: no sms_no');
      assert.equal(line.ledger.timesSent('+8600000000'), 0);

      line.state.gsmStatus = 'LOGOUT';
      assert.equal(await ask(peer, line, formatBulkMessage(14, 'x'), 'ERROR'), `ERROR 14 ${BULK_ERRORS.loggedOut}\n`);
    });

    it('sends one SMS at a time on the radio, across sessions', async () => {
      const peer = await rawServer();
      const ledger = new Ledger();
      const line = await simLine(peer.port, { smsRadioTimeMs: 20, ledger });
      for (const sendId of [1, 2]) {
        await ask(peer, line, formatBulkMessage(sendId, `s${sendId}`), 'PASSWORD');
        await ask(peer, line, formatBulkPassword(sendId, PASSWORD), 'SEND');
      }
      await ask(peer, line, formatBulkSend(1, 1, '+1'), 'WAIT');
      await ask(peer, line, formatBulkSend(2, 1, '+2'), 'WAIT');
      assert.equal(line.radioBacklog, 2);
      await peer.next(startsWith('OK 1 1 '));
      await peer.next(startsWith('OK 2 1 '));
      const [a, b] = ledger.sent;
      assert.ok(b.at - a.at >= 15, `second SMS waited for the first (${b.at - a.at} ms)`);
    });
  });

  describe('control commands (raw server socket)', () => {
    it('get_gsm_num, set_gsm_num, a wrong password and a retransmission answered from memory', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { num: '+8613900000000' });
      assert.equal(await ask(peer, line, formatCommand('get_gsm_num', 5, PASSWORD), 'get_gsm_num'), 'get_gsm_num 5 +8613900000000\n');
      assert.equal(await ask(peer, line, formatCommand('get_gsm_num', 6, 'nope'), 'ERROR'), 'ERROR 6 password error\n');
      assert.equal(await ask(peer, line, formatCommand('set_gsm_num', 7, PASSWORD, ['+8613911111111']), 'set_gsm_num'), 'set_gsm_num 7 +8613911111111 ok\n');
      // The same sendid again is a retransmission: answered as before, not executed.
      assert.equal(await ask(peer, line, formatCommand('set_gsm_num', 7, PASSWORD, ['+8613922222222']), 'set_gsm_num'), 'set_gsm_num 7 +8613911111111 ok\n');
      assert.equal(line.state.num, '+8613911111111');
      assert.equal(await ask(peer, line, formatCommand('set_imei', 8, PASSWORD, ['123']), 'ERROR'), 'ERROR 8 123 invalid\n');
      assert.equal(await ask(peer, line, formatCommand('CURCELL', 9, PASSWORD), 'CURCELL'), 'CURCELL 9 5E5B\n');
    });

    it('GSM answers the 7-field form (4 fields on request)', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { imei: '867495023958030' });
      const sevenText = await ask(peer, line, formatCommand('GSM', 1, PASSWORD), 'GSM:');
      assert.match(sevenText, /^GSM:1;get_gsm_num:\(null\);/, 'no number is (null), as real firmware sends it');
      const seven = parseDeviceMessage(sevenText);
      assert.equal(seven.kind, 'gsm');
      assert.deepEqual(seven.kind === 'gsm' && { ...seven.fields }, {
        get_gsm_num: '',
        get_exp_time: '0',
        get_remain_time: '0',
        get_gsm_state: 'IDLE',
        imei: '867495023958030',
        out_call_interval: '0',
        module_down: '0',
      });
      assert.equal(await ask(peer, line, formatCommand('GSM', 2, 'nope'), 'GSMERROR'), 'GSMERROR 2 password error\n');

      const oldLine = new SimLine({ id: 'goip02', password: PASSWORD, server: { host: '127.0.0.1', port: peer.port }, gsmReplyFields: 4 });
      lines.push(oldLine);
      await oldLine.start();
      const four = await ask(peer, oldLine, formatCommand('GSM', 3, PASSWORD), 'GSM:');
      assert.equal(four, 'GSM:3;get_gsm_num:(null);get_exp_time:0;get_remain_time:0;get_gsm_state:IDLE');
    });

    it('USSD answers after a delay and caches the last reply for repeated and older sendids', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { ussdDelayMs: 10, ussdReplies: { '*100#': 'Balance: 12.34 CNY\nValid until 2030', '*404#': { error: 'network busy' } } });
      const first = await ask(peer, line, formatCommand('USSD', 8, PASSWORD, ['*100#']), 'USSD');
      assert.equal(first, 'USSD 8 Balance: 12.34 CNY\nValid until 2030\n');
      let executed = 0;
      line.on('command', (_name, _id, _reply, repeated) => !repeated && executed++);
      assert.equal(await ask(peer, line, formatCommand('USSD', 8, PASSWORD, ['*100#']), 'USSD'), first, 'repeated sendid');
      assert.equal(await ask(peer, line, formatCommand('USSD', 3, PASSWORD, ['*999#']), 'USSD'), first, 'older sendid');
      assert.equal(executed, 0);
      assert.equal(await ask(peer, line, formatCommand('USSD', 9, PASSWORD, ['*999#']), 'USSD'), 'USSD 9 USSD send failed!\n');
      assert.equal(await ask(peer, line, formatCommand('USSD', 10, PASSWORD, ['*404#']), 'USSDERROR'), 'USSDERROR 10 network busy\n');
      assert.equal(await ask(peer, line, formatCommand('USSDEXIT', 11, PASSWORD), 'USSDEXIT'), 'USSDEXIT 11\n');
    });

    it('get_cells_list answers ok and later pushes a CELLS report', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { cellsDelayMs: 5, cells: ['689', '638'] });
      assert.equal(await ask(peer, line, formatCommand('get_cells_list', 4, PASSWORD), 'get_cells_list'), 'get_cells_list 4 ok\n');
      const cells = parseDeviceMessage((await peer.next(startsWith('CELLS:'))).text);
      assert.ok(cells.kind === 'report');
      assert.equal(cells.fields.lists, '689,638,');
      const settled = nextEvent<[ReportResult]>(line, 'report');
      await peer.send(formatReportAck('CELLS', cells.reportId), linePort(line));
      const [result] = await settled;
      assert.equal(result.acked, true);
    });

    it('streams AT packets for ATCMD while the AT session is open', async () => {
      const peer = await rawServer();
      const line = await simLine(peer.port, { signal: 17 });
      assert.equal(await ask(peer, line, formatCommand('ATCMD', 1, PASSWORD, ['AT+CSQ']), 'ERROR'), 'ERROR 1 AT_NOT_STARTED\n');
      assert.equal(await ask(peer, line, formatCommand('ATSTART', 20, PASSWORD), 'ATSTART'), 'ATSTART 20 OK\n');
      assert.equal(await ask(peer, line, formatCommand('ATCMD', 21, PASSWORD, ['AT+CSQ']), 'ATCMD'), 'ATCMD 21 OK\n');
      const packets = [await peer.next(startsWith('AT:')), await peer.next(startsWith('AT:')), await peer.next(startsWith('AT:'))];
      assert.deepEqual(
        packets.map((p) => p.text),
        ['AT:20;count:1;id:goip01;password:secret;receive:write:AT+CSQ', 'AT:20;count:2;id:goip01;password:secret;receive:+CSQ: 17,99', 'AT:20;count:3;id:goip01;password:secret;receive:OK'],
      );
      // A retransmitted ATCMD is answered, not written to the module again.
      const out: string[] = [];
      line.on('datagramOut', (t) => out.push(t));
      assert.equal(await ask(peer, line, formatCommand('ATCMD', 21, PASSWORD, ['AT+CSQ']), 'ATCMD'), 'ATCMD 21 OK\n');
      assert.equal(await ask(peer, line, formatCommand('ATSTOP', 22, PASSWORD), 'ATSTOP'), 'ATSTOP 22 OK\n');
      assert.deepEqual(out, ['ATCMD 21 OK\n', 'ATSTOP 22 OK\n']);
    });

    it('ignores datagrams that do not come from the configured server', async () => {
      const peer = await rawServer();
      const stranger = await rawServer();
      const line = await simLine(peer.port, { num: '+1' });
      const stray = nextEvent<[string, string, number]>(line, 'stray');
      await stranger.send(formatCommand('get_gsm_num', 1, PASSWORD), linePort(line));
      const [text, , port] = await stray;
      assert.equal(text, 'get_gsm_num 1 secret');
      assert.equal(port, stranger.port);
      assert.equal(line.counters.stray, 1);
      assert.equal(stranger.received.length, 0);
    });
  });

  describe('device timings (fake clock)', () => {
    it('keepalive every 30 s, RECEIVE resent every 3 s three times, session dropped after 90 s, AT session after 60 s', async () => {
      const peer = await rawServer();
      const clock = sinon.useFakeTimers(FAKE_TIMERS);
      // undefined: the device default (30 s) instead of this file's quiet 60 s.
      const line = await simLine(peer.port, { keepaliveIntervalMs: undefined });
      assert.match((await peer.next(startsWith('req:'))).text, /^req:1;id:goip01;pass:secret;num:;signal:25;gsm_status:LOGIN;voip_status:LOGOUT;imei:\d{15};imsi:\d{15};iccid:\d{20};pro:CHINA MOBILE;$/);
      clock.tick(30_000);
      assert.match((await peer.next(startsWith('req:'))).text, /^req:2;/);

      const result = line.receiveSms('+8613800138000', 'nobody acks');
      const first = (await peer.next(startsWith('RECEIVE:'))).text;
      for (let i = 0; i < 3; i++) {
        clock.tick(3000);
        assert.equal((await peer.next(startsWith('RECEIVE:'))).text, first, 'identical resend');
      }
      clock.tick(3000);
      const settled = await result;
      assert.deepEqual({ acked: settled.acked, attempts: settled.attempts }, { acked: false, attempts: 4 });

      await ask(peer, line, formatBulkMessage(40, 'x'), 'PASSWORD');
      const closed: Array<[number, string]> = [];
      line.on('sessionClosed', (id, reason) => closed.push([id, reason]));
      clock.tick(89_999);
      assert.deepEqual(closed, []);
      clock.tick(1);
      assert.deepEqual(closed, [[40, 'expired']]);

      await ask(peer, line, formatCommand('ATSTART', 50, PASSWORD), 'ATSTART');
      clock.tick(59_000);
      await ask(peer, line, formatCommand('ATALIVE', 51, PASSWORD), 'ATALIVE');
      clock.tick(59_000);
      assert.equal(await ask(peer, line, formatCommand('ATCMD', 52, PASSWORD, ['AT']), 'ATCMD'), 'ATCMD 52 OK\n', 'ATALIVE kept it open');
      clock.tick(60_000);
      assert.equal(await ask(peer, line, formatCommand('ATCMD', 53, PASSWORD, ['AT']), 'ERROR'), 'ERROR 53 AT_NOT_STARTED\n');
    });

    it('old firmware keepalive stops after signal', async () => {
      const peer = await rawServer();
      await simLine(peer.port, { firmware: 'old', num: '+86139' });
      assert.equal((await peer.next(startsWith('req:'))).text, 'req:1;id:goip01;pass:secret;num:+86139;signal:25;');
    });
  });

  it('the fault PRNG replays identically for one seed', () => {
    const a = mulberry32(99);
    const b = mulberry32(99);
    const c = mulberry32(100);
    const seqA = Array.from({ length: 5 }, a);
    assert.deepEqual(seqA, Array.from({ length: 5 }, b));
    assert.notDeepEqual(seqA, Array.from({ length: 5 }, c));
    assert.ok(seqA.every((x) => x >= 0 && x < 1));
  });
});
