import assert from 'node:assert/strict';
import { formatKeepalive, formatReport, parseDeviceMessage } from '../../src/protocol';
import { type GoipEvent, GoipServer } from '../../src/link';
import { mulberry32 as prng } from '../../src/sim/prng';
import { UdpPeer } from '../helpers/udp';

const VALID_SHAPES = [
  'req:12;id:goip01;pass:secret;num:;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;imei:867495023958030;pro:POL;',
  'RECEIVE:1571812849;id:goip01;password:secret;srcnum:1380013800;msg:测试;:\n',
  'DELIVER:1571812803;id:goip01;password:secret;sms_no:32;state:0;num:+861380013800',
  'HANGUP:1571812814;id:goip01;password:secret;num:,cause:Normal call clearing',
  'CELLS:34347;goip01;secret;123,456,',
  'AT:20;count:1;id:goip01;password:secret;receive:write:AT+CREG?',
  'GSM:1;get_gsm_num:(null);get_exp_time:0',
  'OK 11 1 32\n',
];

/** One hostile datagram: random bytes, truncations, mutations, huge, wrong credentials. */
function hostileDatagram(random: () => number, i: number): Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const wrongAuth = (text: string): string => text.replace(/secret/g, pick(['Secret', 'secre', 'secret ', '', 'x'.repeat(300)])).replace(/goip01/g, pick(['goip01', 'goip99', '', 'GOIP01']));
  switch (i % 8) {
    case 0: {
      const bytes = Buffer.alloc(1 + Math.floor(random() * 1400));
      for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(random() * 256);
      return bytes;
    }
    case 1: {
      const text = wrongAuth(pick(VALID_SHAPES));
      return Buffer.from(text.slice(0, Math.floor(random() * text.length)));
    }
    case 2: {
      const bytes = Buffer.from(wrongAuth(pick(VALID_SHAPES)));
      for (let k = 0; k < 3; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      return bytes;
    }
    case 3:
      return Buffer.from(`RECEIVE:${i};id:goip01;password:wrong;srcnum:1;msg:${'A'.repeat(60_000)}`);
    case 4:
      return Buffer.from(formatKeepalive({ count: i, id: pick(['goip01', 'goip02', 'intruder', '']), password: 'wrong' }));
    case 5:
      return Buffer.from(formatReport(pick(['RECEIVE', 'DELIVER', 'STATE', 'USSN', 'XYZ']), i, pick(['goip01', 'nobody']), 'bad', { srcnum: '1', msg: 'spoof' }));
    case 6:
      return Buffer.from(pick(['OK 1 1 5\n', 'WAIT 1 1\n', 'get_gsm_num 1 +1', 'GSM:1;a:b', 'USSD 3 hi', 'ERROR 1 PASSWORD\n']));
    default:
      return Buffer.from(pick(['', ';', ':', 'req:', 'req:1;', 'RECEIVE:', 'RECEIVE:-;', ';;;;id:;password:', '\u0000'.repeat(50), 'req:99999999999999999999999;id:goip01;pass:secret']));
  }
}

describe('hostile traffic', function () {
  this.timeout(120_000);

  it('the parser never throws on 100,000 random strings', () => {
    const random = prng(7);
    const alphabet = 'req:RECEIVE;id:password:msg:OK WAIT 0123456789-\n;:,()<NULL>你😀';
    for (let i = 0; i < 100_000; i++) {
      let text = '';
      const length = Math.floor(random() * 80);
      for (let k = 0; k < length; k++) text += alphabet[Math.floor(random() * alphabet.length)];
      parseDeviceMessage(text);
    }
  });

  it('10,000 malformed or hostile datagrams: no crash, no emission, no report reply to a stranger, bounded memory', async () => {
    const server = new GoipServer({
      bind: '127.0.0.1',
      port: 0,
      devices: [
        { id: 'goip01', password: 'secret' },
        { id: 'goip02', password: 'other' },
      ],
      rejectReplyIntervalMs: 0,
    });
    const port = (await server.start()).port;
    const line = await UdpPeer.open();
    const attackers = await Promise.all([1, 2, 3, 4, 5].map(() => UdpPeer.open()));
    const events: GoipEvent[] = [];
    const outToStrangers: string[] = [];
    server.on('event', (e) => events.push(e));
    server.on('datagramOut', (text, _address, outPort) => {
      if (outPort !== line.port) outToStrangers.push(text);
    });
    try {
      let count = 1;
      const barrier = async (): Promise<void> => {
        const ack = await line.request(formatKeepalive({ count: ++count, id: 'goip01', password: 'secret' }), port);
        assert.equal(ack.text, `reg:${count};status:0;`);
      };
      await barrier();
      const heapBefore = process.memoryUsage().heapUsed;
      const random = prng(42);
      const total = 10_000;
      const batch = 25;
      for (let start = 0; start < total; start += batch) {
        const sends: Array<Promise<void>> = [];
        for (let i = start; i < start + batch; i++) sends.push(attackers[i % attackers.length].send(hostileDatagram(random, i), port));
        await Promise.all(sends);
        // The server handles datagrams in arrival order: the line's ack proves the batch was processed.
        await barrier();
      }
      const hostileSeen = server.counters.datagrams - count;
      assert.ok(hostileSeen >= total * 0.95, `server saw ${hostileSeen} of ${total} hostile datagrams`);
      assert.deepEqual(
        events.filter((e) => !(e.line === 'goip01' && ['online', 'keepalive'].includes(e.event))).map((e) => `${e.line}/${e.event}`),
        [],
        'nothing but the real line was emitted',
      );
      for (const text of outToStrangers) assert.match(text, /^reg:-?\d+;status:1;$/, 'strangers only ever get keepalive rejections');
      assert.equal(server.line('goip01')?.port, line.port, 'the registered address never moved');
      assert.equal(server.line('goip02')?.address, null);
      for (const attacker of attackers) {
        assert.equal(attacker.received.filter((m) => !m.text.startsWith('reg:')).length, 0);
      }
      const internals = (server as unknown as { registry: { lastRejectReply: Map<string, number>; byAddress: Map<string, unknown> } }).registry;
      assert.ok(internals.lastRejectReply.size <= attackers.length);
      assert.equal(internals.byAddress.size, 1);
      const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
      assert.ok(heapGrowth < 64 * 1024 * 1024, `heap grew ${heapGrowth} bytes`);
      // Still fully working afterwards.
      const ack = await line.request(formatReport('RECEIVE', 1, 'goip01', 'secret', { srcnum: '1', msg: 'still here' }), port);
      assert.equal(ack.text, 'RECEIVE 1 OK');
      assert.equal(events.filter((e) => e.event === 'sms').length, 1);
    } finally {
      await Promise.all([line, ...attackers].map((p) => p.close()));
      await server.stop();
    }
  });
});
