import assert from 'node:assert/strict';
import { asynchronousOf } from '../../src/outbox/store-ports';
import { formatKeepalive } from '../../src/protocol';
import { SqliteOutbox } from '../../src/outbox';
import type { Outbox } from '../../src/outbox/types';
import { type DeliveryPayload, type GoipEvent, GoipServer } from '../../src/link';
import { StatusReportWatcher } from '../../src/outbound';
import { AtLineReassembler, type ModuleLine } from '../../src/outbound/reports/at-lines';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { nextEvent, UdpPeer } from '../helpers/udp';

const LINE = 'goip01';
const SECOND = 1000;
const HOUR = 3_600_000;

/** The traffic of one send and its report (docs/protocol.md#status-reports-in-the-at-stream). */
const SEED_SUBMIT = '0031000B913158136777F70008FF18003C0030003000300031003E6D4B8BD577ED4FE156DE9988';
const SEED_REPORT = '0006080D91683158136777F7602070416530006020704165300000';

function hex(n: number): string {
  return n.toString(16).padStart(2, '0').toUpperCase();
}

function semiOctets(digits: string): string {
  const padded = digits.length % 2 === 0 ? digits : `${digits}F`;
  let out = '';
  for (let i = 0; i < padded.length; i += 2) out += padded[i + 1] + padded[i];
  return out;
}

function address(number: string): string {
  const international = number.startsWith('+');
  const digits = number.replace(/\D/g, '');
  return hex(digits.length) + (international ? '91' : '81') + semiOctets(digits);
}

/** An SMS-SUBMIT PDU (GSM-7 "Hi", report requested) and its AT+CMGS length. */
function submitPdu(number: string): { pdu: string; octets: number } {
  const pdu = `0031${'00'}${address(number)}0000AA02C834`;
  return { pdu, octets: pdu.length / 2 - 1 };
}

/** An SMS-STATUS-REPORT PDU and its +CDS length (times 2024-05-17 09:30:15 / 09:31:45 +08:00). */
function reportPdu(reference: number, number: string, status: number): { pdu: string; octets: number } {
  const pdu = `0006${hex(reference)}${address(number)}4250719003512342507190135423${hex(status)}`;
  return { pdu, octets: pdu.length / 2 - 1 };
}

/** The AT packets of one PDU-mode send, one line each as the GoIP mirrors them. */
function sendTraffic(number: string, reference: number): string[] {
  const { pdu, octets } = submitPdu(number);
  return [`write:AT+CMGS=${octets}\r`, '\r\n> ', `write:${pdu}\x1a`, `\r\n+CMGS: ${reference}\r\n\r\nOK\r\n`];
}

function reportTraffic(reference: number, number: string, status: number): string[] {
  const { pdu, octets } = reportPdu(reference, number, status);
  return [`\r\n+CDS: ${octets}\r\n${pdu}\r\n`];
}

const OUTBOXES: Array<[string, (now: () => number) => Outbox]> = [
  ['memory outbox', (now) => new MemoryOutbox(now)],
  ['SQLite outbox', (now) => SqliteOutbox.open(':memory:', { now })],
];

for (const [outboxName, openOutbox] of OUTBOXES) {
  describe(`StatusReportWatcher (${outboxName})`, () => {
    let clock: number;
    let outbox: Outbox;
    let server: GoipServer;
    let watcher: StatusReportWatcher;
    let events: GoipEvent[];
    let session: number;
    let count: number;
    let batches: number;

    beforeEach(() => {
      clock = 1_715_909_415_000;
      outbox = openOutbox(() => clock);
      server = new GoipServer({ devices: [{ id: LINE, password: 'pw' }, { id: 'goip02', password: 'pw' }] });
      events = [];
      watcher = new StatusReportWatcher(server, asynchronousOf(outbox, ['findSentTo', 'markDelivery']), { now: () => clock });
      watcher.on('delivery', (event) => events.push(event));
      watcher.start();
      session = 20;
      count = 0;
      batches = 0;
    });
    afterEach(() => {
      watcher.stop();
      outbox.close();
    });

    /** Enqueues, claims and marks sent one SMS to `number` on `line`; returns its messageId. */
    function sent(number: string, line = LINE): string {
      const batchId = `b${++batches}`;
      outbox.enqueue({
        batchId,
        text: 'Hi',
        line,
        nodeId: 'send1',
        meta: {},
        segments: 1,
        encoding: 'GSM-7',
        recipients: [{ messageId: `${batchId}-0`, number }],
      });
      const [claimed] = outbox.claim(line, outbox.nextSendId(line), 1, 1);
      return outbox.markSent(claimed.messageId, 7, '2024-05-01').messageId;
    }

    /** One AT packet of `line`, through the server's event stream as the gateway wires it. */
    function packet(text: string, line = LINE, packetCount = ++count): void {
      server.emit('event', { event: 'at', line, payload: { count: packetCount, text }, fields: { id: line, verb: 'AT', reportId: String(session), count: String(packetCount) }, receivedAt: clock });
    }

    function payloads(): DeliveryPayload[] {
      return events.map((e) => e.payload as DeliveryPayload);
    }

    it('correlates the example traffic, split at odd places and duplicated, to the sent message', async () => {
      const messageId = sent('+8613853176777');
      clock += 2 * SECOND;
      const stream = [
        'write:AT+CMGS=38\r',
        '\r\n> ',
        `write:${SEED_SUBMIT}\x1a`,
        '\r\n+CMG',
        'S: 8\r\n\r\nOK\r\n',
        '\r\n+CDS: 2',
        `6\r\n${SEED_REPORT.slice(0, 17)}`,
        SEED_REPORT.slice(17, 40),
        `${SEED_REPORT.slice(40)}\r\n`,
      ];
      stream.forEach((text, i) => {
        if (i === 5) clock += 30 * SECOND;
        const n = ++count;
        packet(text, LINE, n);
        if (i % 2 === 0) packet(text, LINE, n); // the device resent it: same session and count
      });
      await flush();
      assert.equal(events.length, 1, JSON.stringify(events));
      const [event] = events;
      assert.equal(event.event, 'delivery');
      assert.equal(event.line, LINE);
      assert.deepEqual(event.payload, { to: '+8613853176777', state: 0, status: 'delivered', smsNo: null, messageId });
      assert.equal(event.fields.source, 'pdu');
      assert.equal(event.fields.reference, '8');
      assert.equal(event.fields.dischargeTime, '2006-02-07T14:56:03+00:00');
      assert.equal(event.fields.pdu, SEED_REPORT);
      const stored = outbox.get(messageId);
      assert.deepEqual([stored?.deliveryState, stored?.deliveredAt], [0, clock]);
      assert.equal(watcher.counters.duplicatePackets, 5);
      assert.deepEqual(watcher.sendsOf(LINE), [{ reference: 8, recipient: '+13853176777', at: clock - 30 * SECOND }]);
    });

    it('reads packets that each hold one line without a line break, and several lines in one packet', async () => {
      const first = sent('+8613800138000');
      const second = sent('013900139000');
      const { pdu, octets } = submitPdu('+8613800138000');
      for (const text of [`write:AT+CMGS=${octets}`, '> ', `write:${pdu}`, '+CMGS: 9', 'OK']) packet(text);
      packet([...sendTraffic('013900139000', 10), ...reportTraffic(10, '+8613900139000', 0)].join(''));
      const report = reportPdu(9, '+8613800138000', 48);
      packet(`+CDS: ${report.octets}`);
      packet(report.pdu);
      packet('OK');
      await flush();
      assert.deepEqual(
        payloads().map((p) => [p.messageId, p.state, p.status]),
        [
          [second, 0, 'delivered'],
          [first, 48, 'pending'],
        ],
      );
      assert.equal(outbox.get(first)?.deliveryState, 48);
    });

    it('tells sends with the same TP-MR apart by recipient after the reference wrapped', async () => {
      const early = sent('+447700900001');
      for (const text of sendTraffic('+447700900001', 8)) packet(text);
      clock += HOUR;
      const late = sent('+447700900002');
      for (const text of sendTraffic('+447700900002', 8)) packet(text);
      clock += 10 * SECOND;
      for (const text of reportTraffic(8, '+447700900001', 0)) packet(text);
      for (const text of reportTraffic(8, '+447700900002', 70)) packet(text);
      await flush();
      assert.deepEqual(
        payloads().map((p) => [p.messageId, p.status]),
        [
          [early, 'delivered'],
          [late, 'failed'],
        ],
      );
    });

    it('publishes an unknown TP-MR (or a send of another line) with messageId null and leaves the outbox alone', async () => {
      const messageId = sent('+8613853176777');
      for (const text of sendTraffic('+8613853176777', 8)) packet(text);
      for (const text of reportTraffic(99, '+8613853176777', 0)) packet(text);
      for (const text of reportTraffic(8, '+8613853176777', 0)) packet(text, 'goip02');
      await flush();
      assert.deepEqual(payloads(), [
        { to: '+8613853176777', state: 0, status: 'delivered', smsNo: null, messageId: null },
        { to: '+8613853176777', state: 0, status: 'delivered', smsNo: null, messageId: null },
      ]);
      assert.equal(outbox.get(messageId)?.deliveryState, null);
    });

    it('forgets sends after the window, and keeps at most maxSendsPerLine of them', async () => {
      const messageId = sent('+8613853176777');
      for (const text of sendTraffic('+8613853176777', 8)) packet(text);
      clock += watcher.options.windowMs + SECOND;
      for (const text of reportTraffic(8, '+8613853176777', 0)) packet(text);
      await flush();
      assert.equal(payloads()[0].messageId, null);
      assert.equal(outbox.get(messageId)?.deliveryState, null);
      for (let i = 0; i < 3000; i++) packet(`+CMGS: ${i % 256}\r\n`);
      assert.equal(watcher.sendsOf(LINE).length, watcher.options.maxSendsPerLine);
    });

    it('publishes a repeated report once; a later status for the same send again', async () => {
      const messageId = sent('+8613853176777');
      for (const text of sendTraffic('+8613853176777', 8)) packet(text);
      for (const text of reportTraffic(8, '+8613853176777', 48)) packet(text);
      for (const text of reportTraffic(8, '+8613853176777', 48)) packet(text);
      clock += HOUR;
      for (const text of reportTraffic(8, '+8613853176777', 0)) packet(text);
      await flush();
      assert.deepEqual(
        payloads().map((p) => [p.messageId, p.state]),
        [
          [messageId, 48],
          [messageId, 0],
        ],
      );
      await flush();
      assert.equal(watcher.counters.duplicateReports, 1);
      assert.deepEqual([outbox.get(messageId)?.deliveryState, outbox.get(messageId)?.deliveredAt], [0, clock]);
    });

    it('understands text-mode sends and reports (AT+CMGF=1)', async () => {
      const messageId = sent('+8613800138000');
      for (const text of ['write:AT+CMGS="+8613800138000"\r', '\r\n> ', 'write:Hello\x1a', '\r\n+CMGS: 12\r\n\r\nOK\r\n']) packet(text);
      packet('\r\n+CDS: 6,12,"+8613800138000",145,"24/05/17,09:30:15+32","24/05/17,09:31:45+32",0\r\n');
      await flush();
      assert.deepEqual(payloads(), [{ to: '+8613800138000', state: 0, status: 'delivered', smsNo: null, messageId }]);
      assert.equal(events[0].fields.dischargeTime, '2024-05-17T09:31:45+08:00');
    });

    it('decodes +CMT inbound SMS-DELIVERs onto its own sms event, not as a delivery', async () => {
      const inbound: Array<[string, string, string]> = [];
      watcher.on('sms', (line, message) => inbound.push([line, message.sender, message.text]));
      packet('\r\n+CMT: ,34\r\n00000D91683108108300F00008425071900351230E6D4B8BD577ED4FE100204F60597D\r\n');
      assert.deepEqual(inbound, [[LINE, '+8613800138000', '测试短信 你好']]);
      assert.equal(events.length, 0);
    });

    it('publishes nothing for garbage and never throws; the stream recovers', async () => {
      const warnings: Error[] = [];
      watcher.on('warning', (err) => warnings.push(err));
      const messageId = sent('+8613853176777');
      for (const text of sendTraffic('+8613853176777', 8)) packet(text);
      const noise = [
        '\r\n+CDS: 26\r\nZZZZ\r\n',
        '\r\n+CDS: 26\r\n0006080D91683158\r\nOK\r\n',
        '\r\n+CDS: 26\r\n00\r\n',
        '+CDS: 999\r\n',
        '+CMGS: 300\r\n',
        '\r\n+CDS: 26\r\n0003080D91683158136777F7602070416530006020704165300000\r\n',
        '\u0000\u0001\uffff;:,\r\n',
        'write:',
        '',
        'x'.repeat(5000),
        `\r\n+CDS: 26\r\n${'F'.repeat(900)}`,
        '\r\n+CMT: ,99\r\n00FF\r\n',
      ];
      for (const text of noise) assert.doesNotThrow(() => packet(text));
      assert.doesNotThrow(() => watcher.feed(LINE, 'junk', { session: Number.NaN, count: null }));
      assert.equal(events.length, 0);
      assert.ok(watcher.counters.invalid >= 4, `invalid ${watcher.counters.invalid}`);
      assert.ok(warnings.length >= 4);
      for (const text of reportTraffic(8, '+8613853176777', 0)) packet(`\r\n${text}`);
      await flush();
      assert.deepEqual(payloads().map((p) => p.messageId), [messageId]);
    });

    it('drops an unfinished line when packets were lost or a new AT session began', async () => {
      sent('+8613853176777');
      for (const text of sendTraffic('+8613853176777', 8)) packet(text);
      const { pdu, octets } = reportPdu(8, '+8613853176777', 0);
      packet(`\r\n+CDS: ${octets}\r\n${pdu.slice(0, 20)}`);
      count += 1; // one packet lost
      packet(`${pdu.slice(30)}\r\n`);
      session = 21;
      packet(`\r\n+CDS: ${octets}\r\n${pdu.slice(0, 20)}`, LINE, 1);
      session = 22;
      packet(`${pdu.slice(20)}\r\n`, LINE, 1);
      await flush();
      assert.equal(events.length, 0);
      packet(`\r\n+CDS: ${octets}\r\n${pdu}\r\n`, LINE, 2);
      await flush();
      assert.equal(events.length, 1);
    });
  });
}

/** The watcher's store calls answer on a later microtask: let them settle. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('StatusReportWatcher over UDP (GoipServer + AT packets)', () => {
  it('turns AT packets from a registered line into a correlated delivery event; resent packets change nothing', async () => {
    const outbox = new MemoryOutbox();
    const server = new GoipServer({ bind: '127.0.0.1', port: 0, devices: [{ id: LINE, password: 'secret' }] });
    const watcher = new StatusReportWatcher(server, asynchronousOf(outbox, ['findSentTo', 'markDelivery']));
    watcher.start();
    const peer = await UdpPeer.open();
    try {
      const { port } = await server.start();
      const keepalive = formatKeepalive({ count: 1, id: LINE, password: 'secret', fields: { num: '', signal: '25', gsm_status: 'LOGIN', voip_status: 'LOGOUT', pro: 'CHINA MOBILE' } });
      await peer.request(keepalive, port);
      outbox.enqueue({ batchId: 'b', text: 'Hi', line: LINE, nodeId: 'n', meta: {}, segments: 1, encoding: 'GSM-7', recipients: [{ messageId: 'm1', number: '+8613853176777' }] });
      outbox.markSent(outbox.claim(LINE, 1, 1, 1)[0].messageId, 3, '2024-05-01');
      const delivered = nextEvent<[GoipEvent]>(watcher, 'delivery');
      const texts = ['write:AT+CMGS=38\r', '\r\n> ', `write:${SEED_SUBMIT}\x1a`, '\r\n+CMGS: 8\r\n\r\nOK\r\n', `\r\n+CDS: 26\r\n${SEED_REPORT.slice(0, 30)}`, `${SEED_REPORT.slice(30)}\r\n`];
      let n = 0;
      for (const text of texts) {
        const datagram = `AT:20;count:${++n};id:${LINE};password:secret;receive:${text}`;
        await peer.send(datagram, port);
        await peer.send(datagram, port);
      }
      const [event] = await delivered;
      assert.deepEqual(event.payload, { to: '+8613853176777', state: 0, status: 'delivered', smsNo: null, messageId: 'm1' });
      assert.equal(event.fields.source, 'pdu');
      assert.equal(outbox.get('m1')?.deliveryState, 0);
      assert.equal(watcher.counters.reports, 1);
    } finally {
      watcher.stop();
      await peer.close();
      await server.stop();
    }
  });
});

describe('AtLineReassembler', () => {
  function lines(stream: AtLineReassembler, ...packets: string[]): ModuleLine[] {
    return packets.flatMap((text) => stream.take(text));
  }

  it('rebuilds module lines across packets and frames an announced PDU by its length', async () => {
    const stream = new AtLineReassembler();
    assert.deepEqual(lines(stream, '\r\n+CMG', 'S: 8\r\n\r\nOK\r\n', '\r\n+CDS: 2', `6\r\n${SEED_REPORT.slice(0, 17)}`, SEED_REPORT.slice(17).toLowerCase()), [
      { kind: 'text', text: '+CMGS: 8', announces: null },
      { kind: 'text', text: 'OK', announces: null },
      { kind: 'text', text: '+CDS: 26', announces: { kind: 'report', octets: 26 } },
      { kind: 'pdu', hex: SEED_REPORT, announced: { kind: 'report', octets: 26 } },
    ]);
    assert.deepEqual(lines(stream, `write:AT+CMGS=38\r`, '\r\n> ', `write:${SEED_SUBMIT}\x1a`), [
      { kind: 'text', text: 'AT+CMGS=38', announces: { kind: 'submit', octets: 38 } },
      { kind: 'pdu', hex: SEED_SUBMIT, announced: { kind: 'submit', octets: 38 } },
    ]);
  });

  it('drops duplicates by session and count, and the unfinished line after a gap or a new session', async () => {
    const stream = new AtLineReassembler();
    assert.equal(stream.accept({ session: 20, count: 1 }), true);
    assert.deepEqual(lines(stream, '\r\n+CMGS: 1'), []);
    assert.equal(stream.accept({ session: 20, count: 1 }), false);
    assert.equal(stream.accept({ session: 20, count: 3 }), true);
    assert.deepEqual(lines(stream, '2\r\n'), [{ kind: 'text', text: '2', announces: null }]);
    lines(stream, '+CDS: 26\r\n0006');
    assert.equal(stream.accept({ session: 21, count: 1 }), true);
    assert.equal(stream.session, 21);
    assert.deepEqual(lines(stream, '080D\r\n'), [{ kind: 'text', text: '080D', announces: null }]);
    assert.equal(stream.accept({ session: Number.NaN, count: 1 }), true);
    assert.equal(stream.session, 21);
  });
});
