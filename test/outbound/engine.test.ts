/**
 * The bulk-send engine end to end: a BulkSender over a real GoipServer on 127.0.0.1 and simulated
 * lines, on the SQLite store and on a memory one (pure parts and timers: lines.test.ts; the
 * session table: session.test.ts).
 */
import { asynchronousOf } from '../../src/outbox/store-ports';
import assert from 'node:assert/strict';
import { sendPortOf, SqliteOutbox } from '../../src/outbox';
import type { Outbox, Recipient } from '../../src/outbox/types';
import { formatKeepalive } from '../../src/protocol';
import { type DeliveryPayload, type GoipEvent, GoipServer, type GoipServerOptions } from '../../src/link';
import { type BulkOptions, BulkSender, FAILURE } from '../../src/outbound';
import { localDay } from '../../src/outbound/lines/policy';
import { deliveryCorrelator } from '../../src/outbound';
import { Ledger, SimLine, type SimLineOptions } from '../../src/sim';
import { FakeTime } from '../helpers/fake-time';
import { MemoryOutbox } from '../helpers/memory-outbox';
import { RecordingOutbox } from '../helpers/recording-outbox';
import { UdpPeer } from '../helpers/udp';

const PASSWORD = 'bulkpw';

/** Timings scaled down: radio 20 ms per SMS, steps of 60 ms. */
const FAST: Partial<BulkOptions> = {
  stepTimeoutMs: 60,
  stepRetries: 3,
  waitRecheckMs: 300,
  acceptedTimeoutMs: 4000,
  busyRetryMs: 100,
  busyCooldownMs: 1000,
  passwordParkMs: 2000,
};

interface RigOptions {
  lines?: number;
  /** Options of every simulated line. */
  sim?: Partial<SimLineOptions>;
  /** Options of line i (0-based), over `sim`. */
  perLine?: (index: number) => Partial<SimLineOptions>;
  bulk?: Partial<BulkOptions>;
  server?: Partial<GoipServerOptions>;
  /** Time is fake (sinon) and moves on whenever the datagrams have settled: exact timings. */
  fakeTime?: boolean;
}

interface Rig {
  server: GoipServer;
  lines: SimLine[];
  ledger: Ledger;
  outbox: RecordingOutbox;
  sender: BulkSender;
  time: FakeTime | null;
  /** Every 'result' of `sender`. */
  results: Recipient[];
  line(id: string): SimLine;
  /** A BulkSender more (same server and outbox), stopped after the test. */
  newSender(): BulkSender;
}

function lineId(i: number): string {
  return `goip${String(i + 1).padStart(2, '0')}`;
}

let batchCounter = 0;

/** Enqueues a batch of `count` numbers no other batch uses; returns the messageIds. */
function enqueue(outbox: RecordingOutbox, count: number, options: { line?: string | null; text?: string } = {}): string[] {
  const batch = ++batchCounter;
  const recipients = Array.from({ length: count }, (_, i) => ({
    messageId: `m${batch}-${i}`,
    number: `+86138${String(batch).padStart(3, '0')}${String(i).padStart(5, '0')}`,
  }));
  outbox.enqueue({
    batchId: `b${batch}`,
    text: options.text ?? `hello ${batch}`,
    line: options.line ?? null,
    nodeId: 'node1',
    meta: {},
    segments: 1,
    encoding: 'GSM-7',
    recipients,
  });
  return recipients.map((r) => r.messageId);
}

/** Resolves once `emitter` emitted `count` more 'result' events; rejects with a diagnosis after `timeoutMs` (a safety net). */
function results(sender: BulkSender, count: number, outbox: RecordingOutbox, timeoutMs = 15_000): Promise<Recipient[]> {
  return new Promise((resolve, reject) => {
    const got: Recipient[] = [];
    if (count === 0) return resolve(got);
    const timer = setTimeout(() => {
      sender.off('result', onResult);
      const states = outbox.all().reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.state]: (acc[r.state] ?? 0) + 1 }), {});
      reject(new Error(`${got.length}/${count} results within ${timeoutMs} ms; outbox ${JSON.stringify(states)}; ${JSON.stringify(sender.progress())}`));
    }, timeoutMs);
    const onResult = (r: Recipient): void => {
      got.push(r);
      if (got.length < count) return;
      clearTimeout(timer);
      sender.off('result', onResult);
      resolve(got);
    };
    sender.on('result', onResult);
  });
}

function final(outbox: RecordingOutbox, ids: readonly string[]): Recipient[] {
  return ids.map((id) => {
    const r = outbox.get(id);
    assert.ok(r, `recipient ${id} exists`);
    return r;
  });
}

/** The bulk engine runs the same against the in-memory double and the real SQLite store. */
const OUTBOXES: Array<[name: string, open: () => Outbox]> = [
  ['in-memory outbox', () => new MemoryOutbox(() => Date.now())],
  ['SQLite outbox', () => SqliteOutbox.open(':memory:', { now: () => Date.now() })],
];

describe('bulk send', () => {
  for (const [outboxName, openOutbox] of OUTBOXES) describe(`against simulated lines (${outboxName})`, () => {
    let rig: Rig | null = null;
    const extraSenders: BulkSender[] = [];

    async function start(options: RigOptions = {}): Promise<Rig> {
      const ids = Array.from({ length: options.lines ?? 1 }, (_, i) => lineId(i));
      const time = options.fakeTime === true ? new FakeTime() : null;
      const server = new GoipServer({
        bind: '127.0.0.1',
        port: 0,
        devices: ids.map((id) => ({ id, password: PASSWORD })),
        offlineAfterMs: 5000,
        ...options.server,
      });
      let datagramsOut = 0;
      server.on('datagramOut', () => datagramsOut++);
      time?.drive(() => server.counters.datagrams + datagramsOut);
      const { port } = await server.start();
      const ledger = new Ledger();
      const lines = ids.map(
        (id, i) =>
          new SimLine({
            id,
            password: PASSWORD,
            server: { host: '127.0.0.1', port },
            keepaliveIntervalMs: 100,
            smsRadioTimeMs: 20,
            ledger,
            ...options.sim,
            ...options.perLine?.(i),
          }),
      );
      const online = Promise.all(
        ids.map(
          (id) =>
            new Promise<void>((resolve) => {
              const onEvent = (e: GoipEvent): void => {
                if (e.line !== id || e.event !== 'online') return;
                server.off('event', onEvent);
                resolve();
              };
              server.on('event', onEvent);
            }),
        ),
      );
      await Promise.all(lines.map((line) => line.start()));
      await online;
      const outbox = new RecordingOutbox(openOutbox());
      const sender = new BulkSender(server, sendPortOf(outbox), { ...FAST, ...options.bulk });
      const collected: Recipient[] = [];
      sender.on('result', (r) => collected.push(r));
      sender.start();
      rig = {
        server,
        lines,
        ledger,
        outbox,
        sender,
        time,
        results: collected,
        line: (id) => lines.find((l) => l.id === id) as SimLine,
        newSender: () => {
          const more = new BulkSender(server, sendPortOf(outbox), { ...FAST, ...options.bulk });
          extraSenders.push(more);
          return more;
        },
      };
      return rig;
    }

    afterEach(async () => {
      if (rig === null) return;
      await rig.sender.stop();
      await Promise.all(extraSenders.splice(0).map((s) => s.stop()));
      await Promise.all(rig.lines.map((line) => line.stop()));
      await rig.server.stop();
      await rig.time?.restore();
      rig.outbox.close();
      rig = null;
    });

    /** Every SEND the server sends (`all`), and those without a committed claim behind them. */
    function watchSends({ server, outbox, lines }: Rig): { all: string[]; uncommitted: string[] } {
      const watched = { all: [] as string[], uncommitted: [] as string[] };
      server.on('datagramOut', (text, _address, port) => {
        const m = /^SEND (\d+) (\d+) /.exec(text);
        if (m === null) return;
        watched.all.push(text);
        const line = lines.find((l) => l.address?.port === port)?.id;
        if (!outbox.claims.some((c) => c.committed && c.line === line && c.sendId === Number(m[1]) && c.telId === Number(m[2]))) watched.uncommitted.push(text);
      });
      return watched;
    }

    /** When the server sent SEND for the number `target()` names (null: none chosen yet). */
    function sendsOf(server: GoipServer, target: () => { sendId: number; telId: number } | null): number[] {
      const at: number[] = [];
      server.on('datagramOut', (text) => {
        const m = /^SEND (\d+) (\d+) /.exec(text);
        const t = target();
        if (m !== null && t !== null && Number(m[1]) === t.sendId && Number(m[2]) === t.telId) at.push(Date.now());
      });
      return at;
    }

    it('sends a batch on one line end to end, committing every claim before its SEND leaves', async () => {
      const started = await start();
      const { outbox, sender, ledger } = started;
      const sends = watchSends(started);
      const ids = enqueue(outbox, 5);
      const done = results(sender, 5, outbox);
      sender.kick();
      const got = await done;

      assert.deepEqual(sends.uncommitted, []);
      assert.ok(sends.all.length >= 5);
      assert.deepEqual(new Set(got.map((r) => r.messageId)), new Set(ids));
      for (const r of final(outbox, ids)) {
        assert.equal(r.state, 'sent');
        assert.equal(r.line, 'goip01');
        assert.equal(r.attempts, 1);
        const air = ledger.sent.filter((s) => s.number === r.number);
        assert.equal(air.length, 1, `${r.number} went out once`);
        assert.equal(r.smsNo, air[0].smsNo, 'the sms_no of OK is stored');
        assert.equal(air[0].telId, r.telId);
        assert.equal(air[0].sendId, r.sendId);
      }
      assert.equal(outbox.sentToday('goip01', localDay(Date.now())), 5);
      assert.equal(outbox.claimedCount(), 0);
    });

    it('lets nothing out of a unit of work whose commit failed, and carries on from the store', async () => {
      const started = await start({ lines: 2 });
      const { outbox, sender, ledger } = started;
      const warnings: Error[] = [];
      sender.on('warning', (err) => warnings.push(err));
      const sends = watchSends(started);
      const ids = enqueue(outbox, 12);
      // Fail the commits of the units of work that follow the first result (a result recorded, a
      // next number claimed and asked) and of the restart's first one.
      sender.once('result', () => (outbox.failCommits = 2));
      const emitted: string[] = [];
      sender.on('result', (r) => emitted.push(r.messageId));
      const done = results(sender, 12, outbox);
      sender.kick();
      await done;

      assert.equal(warnings.length, 2, warnings.map((w) => w.message).join('; '));
      assert.ok(warnings.every((w) => /disk I\/O error/.test(w.message)));
      assert.deepEqual(sends.uncommitted, [], 'no SEND for a claim that was rolled back');
      assert.deepEqual([...emitted].sort(), [...ids].sort(), 'one result per recipient: none from a rolled-back unit');
      for (const r of final(outbox, ids)) assert.equal(r.state, 'sent', `${r.messageId}: ${r.error}`);
      assert.deepEqual(ledger.duplicates(), []);
      assert.equal(outbox.claimedCount(), 0);
    });

    it('spreads 4 lines x 100 recipients over every line and keeps each radio busy', async function () {
      this.timeout(30_000);
      const radioMs = 20;
      const { outbox, sender, ledger } = await start({ lines: 4, sim: { smsRadioTimeMs: radioMs } });
      const ids = enqueue(outbox, 400);
      const startedAt = Date.now();
      const done = results(sender, 400, outbox, 25_000);
      sender.kick();
      const got = await done;
      const elapsedMs = Date.now() - startedAt;

      assert.equal(got.length, 400);
      assert.ok(final(outbox, ids).every((r) => r.state === 'sent'));
      assert.deepEqual(ledger.duplicates(), []);
      const perLine = new Map<string, number>();
      for (const s of ledger.sent) perLine.set(s.line, (perLine.get(s.line) ?? 0) + 1);
      for (let i = 0; i < 4; i++) assert.ok((perLine.get(lineId(i)) ?? 0) >= 60, `${lineId(i)} sent ${perLine.get(lineId(i))}`);
      const perLineRate = 400 / 4 / (elapsedMs / 1000);
      const radioLimit = 1000 / radioMs;
      console.log(`      4 lines x 100: ${elapsedMs} ms, ${perLineRate.toFixed(1)} SMS/s per line (radio limit ${radioLimit}/s, ${((100 * perLineRate) / radioLimit).toFixed(0)}%)`);
    });

    for (const loss of [0.1, 0.3]) {
      it(`ends every recipient sent or failed, without duplicates, at ${loss * 100}% loss with duplication and reordering`, async function () {
        this.timeout(60_000);
        const { outbox, sender, ledger, results: got } = await start({
          lines: 3,
          sim: { faults: { loss, duplicate: 0.1, reorder: 0.1, delayMs: [0, 5], seed: 7 } },
          server: { offlineAfterMs: 10_000 },
        });
        const ids = enqueue(outbox, 90);
        const done = results(sender, 90, outbox, 50_000);
        sender.kick();
        await done;

        const recipients = final(outbox, ids);
        for (const r of recipients) {
          assert.ok(r.state === 'sent' || (r.state === 'failed' && r.error !== null && r.error !== ''), `${r.messageId}: ${r.state} ${r.error}`);
        }
        assert.equal(got.length, 90, 'one result per recipient');
        assert.equal(new Set(got.map((r) => r.messageId)).size, 90);
        assert.deepEqual(ledger.duplicates(), []);
        for (const r of recipients.filter((x) => x.state === 'sent')) assert.equal(ledger.timesSent(r.number), 1);
        const sent = recipients.filter((r) => r.state === 'sent').length;
        console.log(`      ${loss * 100}% loss: ${sent}/90 sent, ${JSON.stringify(sender.progress())}`);
        assert.ok(sent >= 80, `${sent}/90 sent`);
      });
    }

    /** Lets a test drop chosen datagrams of `line`: `out` line -> server, `in` server -> line (true = drop). */
    function intercept(line: SimLine, drop: { out?: (text: string) => boolean; in?: (text: string) => boolean }): void {
      const hooks = line as unknown as { transmit(text: string): void; onDatagram(d: { text: string }): void };
      const transmit = hooks.transmit.bind(line);
      const onDatagram = hooks.onDatagram.bind(line);
      hooks.transmit = (text) => {
        if (drop.out?.(text) !== true) transmit(text);
      };
      hooks.onDatagram = (d) => {
        if (drop.in?.(d.text) !== true) onDatagram(d);
      };
    }

    it('re-asks a number whose OK was lost as soon as a number accepted after it on the line has its result', async () => {
      // waitRecheckMs far beyond the test: only the early re-ask can recover the lost OK.
      const { server, outbox, sender, ledger, lines } = await start({
        sim: { smsRadioTimeMs: 40 },
        bulk: { waitRecheckMs: 60_000, acceptedTimeoutMs: 120_000, sessionsPerLine: 2 },
        fakeTime: true,
      });
      const goip01 = lines[0];
      let dropped: { sendId: number; telId: number; at: number } | null = null;
      const laterResultsAt: number[] = [];
      intercept(goip01, {
        out: (text) => {
          const m = /^OK (\d+) (\d+)/.exec(text);
          if (m === null) return false;
          if (dropped === null) {
            // Exactly one pushed OK is lost: the first one.
            dropped = { sendId: Number(m[1]), telId: Number(m[2]), at: Date.now() };
            return true;
          }
          if (Number(m[1]) !== dropped.sendId) laterResultsAt.push(Date.now());
          return false;
        },
      });
      const reasksAt = sendsOf(server, () => dropped);
      const ids = enqueue(outbox, 6);
      const startedAt = Date.now();
      const done = results(sender, 6, outbox, 5000);
      sender.kick();
      await done;

      assert.ok(dropped !== null, 'an OK was dropped');
      for (const r of final(outbox, ids)) assert.equal(r.state, 'sent', `${r.messageId}: ${r.error}`);
      assert.deepEqual(ledger.duplicates(), []);
      assert.equal(ledger.sent.length, 6);
      assert.ok(reasksAt.length >= 1, 'the number was re-asked');
      assert.ok(laterResultsAt.length >= 1 && reasksAt[0] >= laterResultsAt[0], 're-asked only after a later number had its result');
      assert.ok(Date.now() - startedAt < 3000, `recovered in ${Date.now() - startedAt} ms, not after waitRecheckMs`);
    });

    it('re-asks the last number of a batch once its OK is overdue by the line\'s measured radio pace', async () => {
      // No later number can prove the last OK lost, and waitRecheckMs is far beyond the test.
      const radioMs = 40;
      const { server, outbox, sender, ledger, lines } = await start({
        sim: { smsRadioTimeMs: radioMs },
        bulk: { waitRecheckMs: 60_000, acceptedTimeoutMs: 120_000, sessionsPerLine: 1, overdueFactor: 1.5 },
        fakeTime: true,
      });
      const count = 6;
      const okAt: number[] = [];
      let dropped: { sendId: number; telId: number } | null = null;
      intercept(lines[0], {
        out: (text) => {
          const m = /^OK (\d+) (\d+)/.exec(text);
          if (m === null) return false;
          okAt.push(Date.now());
          if (Number(m[2]) !== count || dropped !== null) return false;
          dropped = { sendId: Number(m[1]), telId: Number(m[2]) };
          return true;
        },
      });
      const reasksAt = sendsOf(server, () => dropped);
      const ids = enqueue(outbox, count);
      const done = results(sender, count, outbox, 10_000);
      sender.kick();
      await done;

      assert.ok(dropped !== null, 'the last OK was dropped');
      for (const r of final(outbox, ids)) assert.equal(r.state, 'sent', `${r.messageId}: ${r.error}`);
      assert.deepEqual(ledger.duplicates(), []);
      assert.equal(ledger.sent.length, count);
      assert.ok(reasksAt.length >= 1, 'the last number was re-asked');
      const lostOkAt = okAt[count - 1];
      assert.ok(reasksAt[0] >= lostOkAt, 'not re-asked before the line had finished it');
      assert.ok(reasksAt[0] - okAt[count - 2] >= radioMs * 1.5, 're-asked no sooner than 1.5 radio times after the previous result');
    });

    it('re-asks an overdue number once; a WAIT answer (still sending) sends it back to the long wait', async () => {
      // The line's pace is learnt from fast SMS; then one SMS takes ten times longer: its re-ask
      // comes while the line still sends it, and docs/protocol.md#re-asking-after-wait warns against asking again then.
      const { server, outbox, sender, ledger, lines } = await start({
        sim: { smsRadioTimeMs: 30 },
        bulk: { waitRecheckMs: 60_000, acceptedTimeoutMs: 120_000, sessionsPerLine: 1, overdueFactor: 1.5 },
      });
      const options = (lines[0] as unknown as { options: { smsRadioTimeMs: number } }).options;
      const slowTelId = 5;
      const waitsToReask: number[] = [];
      let slowAsked = 0;
      server.on('datagramOut', (text) => {
        const m = /^SEND \d+ (\d+) /.exec(text);
        if (m === null || Number(m[1]) !== slowTelId) return;
        slowAsked++;
        options.smsRadioTimeMs = 300; // from its first SEND on, this one takes long
      });
      intercept(lines[0], {
        out: (text) => {
          const m = /^WAIT \d+ (\d+)/.exec(text);
          if (m !== null && Number(m[1]) === slowTelId && slowAsked > 1) waitsToReask.push(Date.now());
          return false;
        },
      });
      const ids = enqueue(outbox, 6);
      const done = results(sender, 6, outbox, 10_000);
      sender.kick();
      await done;

      for (const r of final(outbox, ids)) assert.equal(r.state, 'sent', `${r.messageId}: ${r.error}`);
      assert.deepEqual(ledger.duplicates(), []);
      assert.equal(waitsToReask.length, 1, 'the overdue re-ask was answered WAIT');
      assert.equal(slowAsked, 2, 'asked, re-asked once when overdue, then left alone until its pushed OK');
    });

    it('resends a lost SEND after the measured round trip, long before stepTimeoutMs', async () => {
      const { server, outbox, sender, ledger, lines } = await start({
        bulk: { stepTimeoutMs: 2000, minRetransmitMs: 5, initialRetransmitMs: 2000, waitRecheckMs: 60_000, acceptedTimeoutMs: 120_000 },
        fakeTime: true,
      });
      let lostAt: number | null = null;
      intercept(lines[0], {
        in: (text) => {
          if (!/^SEND \d+ 2 /.test(text) || lostAt !== null) return false;
          lostAt = Date.now();
          return true;
        },
      });
      const resentAt: number[] = [];
      server.on('datagramOut', (text) => {
        if (lostAt !== null && /^SEND \d+ 2 /.test(text)) resentAt.push(Date.now());
      });
      const ids = enqueue(outbox, 3);
      const done = results(sender, 3, outbox, 10_000);
      sender.kick();
      await done;

      assert.ok(lostAt !== null, 'the first SEND of the second number was lost');
      for (const r of final(outbox, ids)) assert.equal(r.state, 'sent', `${r.messageId}: ${r.error}`);
      assert.deepEqual(ledger.duplicates(), []);
      assert.ok(resentAt.length >= 1, 'it was sent again');
      assert.ok(resentAt[0] - (lostAt as number) < 1000, `resent after ${resentAt[0] - (lostAt as number)} ms, not after stepTimeoutMs (2000)`);
    });

    it('fails an accepted number at once, result unknown, when its OK and re-asks are lost until the line forgets the session', async () => {
      const { outbox, sender, ledger, lines } = await start({
        sim: { smsRadioTimeMs: 20, sessionExpiryMs: 500 },
        bulk: { acceptedTimeoutMs: 20_000 },
        fakeTime: true,
      });
      const goip01 = lines[0];
      let okDroppedAt: number | null = null;
      intercept(goip01, {
        out: (text) => {
          if (!/^OK /.test(text) || okDroppedAt !== null) return false;
          okDroppedAt = Date.now();
          return true;
        },
        // Every re-ask is lost until the line has forgotten the session (> sessionExpiryMs).
        in: (text) => okDroppedAt !== null && /^SEND /.test(text) && Date.now() - okDroppedAt < 800,
      });
      const [id] = enqueue(outbox, 1);
      const startedAt = Date.now();
      const done = results(sender, 1, outbox, 5000);
      sender.kick();
      const [r] = await done;

      assert.ok(okDroppedAt !== null);
      assert.equal(r.messageId, id);
      assert.equal(r.state, 'failed');
      assert.equal(r.error, FAILURE.forgotAfterAccepting);
      assert.ok(Date.now() - startedAt < 3000, `failed after ${Date.now() - startedAt} ms, not after acceptedTimeoutMs`);
      assert.equal(ledger.timesSent(r.number), 1, 'it went out once and was not sent again');
      assert.equal(outbox.claimedCount(), 0);
    });

    it('moves a number whose SEND a silent line never answered to another line', async () => {
      const { server, outbox, sender, ledger, lines } = await start({
        lines: 2,
        sim: { smsRadioTimeMs: 30 },
        bulk: { acceptedTimeoutMs: 1500 },
      });
      const goip01 = lines[0];
      const ids = enqueue(outbox, 40);
      let sendsToLine1 = 0;
      let lost: { sendId: number; telId: number } | null = null;
      server.on('datagramOut', (text, _address, port) => {
        const m = /^SEND (\d+) (\d+) /.exec(text);
        if (m === null || lost !== null || port !== goip01.address?.port) return;
        if (++sendsToLine1 < 6) return;
        // The line dies just as this SEND leaves: it never arrives and nothing comes back.
        lost = { sendId: Number(m[1]), telId: Number(m[2]) };
        void goip01.stop();
      });
      const done = results(sender, 40, outbox);
      sender.kick();
      await done;

      assert.ok(lost !== null);
      const { sendId, telId } = lost as { sendId: number; telId: number };
      const claim = outbox.claims.find((c) => c.line === 'goip01' && c.sendId === sendId && c.telId === telId);
      assert.ok(claim);
      const moved = outbox.get(claim.messageId) as Recipient;
      assert.equal(moved.state, 'sent');
      assert.equal(moved.line, 'goip02');
      assert.equal(moved.attempts, 2);
      assert.deepEqual(moved.excludedLines, ['goip01']);
      assert.deepEqual(ledger.duplicates(), []);
      const recipients = final(outbox, ids);
      const failed = recipients.filter((r) => r.state === 'failed');
      // Numbers the dead line had accepted may have gone out: they fail, never go elsewhere.
      assert.ok(failed.length <= 2, `${failed.length} failed`);
      for (const r of failed) assert.equal(r.error, FAILURE.silentAfterAccepting);
      assert.equal(recipients.filter((r) => r.state === 'sent').length, 40 - failed.length);
    });

    it('moves a number the radio failed (errorstatus) to another line, and fails it when every line failed', async () => {
      const failing = new Set<string>();
      const { outbox, sender, ledger } = await start({
        lines: 2,
        perLine: (i) => ({ failNumbers: (n: string) => failing.has(n) || (i === 0 && n.startsWith('+86138')) }),
      });
      const ids = enqueue(outbox, 10);
      const everywhere = (outbox.get(ids[9]) as Recipient).number;
      failing.add(everywhere);
      const done = results(sender, 10, outbox);
      sender.kick();
      await done;

      const recipients = final(outbox, ids);
      const hopeless = recipients[9];
      assert.equal(hopeless.state, 'failed');
      assert.match(hopeless.error ?? '', /radio failed to send it \(errorstatus:1\)/);
      assert.equal(hopeless.attempts, 2);
      for (const r of recipients.slice(0, 9)) {
        assert.equal(r.state, 'sent', `${r.messageId} ${r.error}`);
        assert.equal(r.line, 'goip02');
      }
      const movedOver = recipients.filter((r) => r.excludedLines.includes('goip01'));
      assert.ok(movedOver.length >= 1, 'some numbers went to goip01 first and failed over');
      for (const r of movedOver.filter((x) => x.state === 'sent')) assert.equal(r.attempts, 2);
      assert.deepEqual(ledger.duplicates(), []);
    });

    it('parks a line that answers GSM_LOGOUT until a keepalive shows LOGIN again', async () => {
      const { outbox, sender, ledger, line } = await start({
        lines: 2,
        // Keepalives rarely: the server still believes goip01 is on the network.
        sim: { keepaliveIntervalMs: 60_000 },
        server: { offlineAfterMs: 120_000 },
      });
      const goip01 = line('goip01');
      goip01.state.gsmStatus = 'LOGOUT';
      const parked = new Promise<void>((resolve) => {
        const onProgress = (p: { parkedLines: number }): void => {
          if (p.parkedLines === 0) return;
          sender.off('progress', onProgress);
          resolve();
        };
        sender.on('progress', onProgress);
      });
      const first = enqueue(outbox, 20);
      const done = results(sender, 20, outbox);
      sender.kick();
      await parked;
      await done;
      const recipients = final(outbox, first);
      assert.ok(recipients.every((r) => r.state === 'sent' && r.line === 'goip02'));
      assert.ok(recipients.some((r) => r.excludedLines.includes('goip01')), 'the numbers goip01 held were requeued');
      assert.equal(ledger.sent.filter((s) => s.line === 'goip01').length, 0);

      goip01.state.gsmStatus = 'LOGIN';
      const unparked = new Promise<void>((resolve) => {
        const onProgress = (p: { parkedLines: number }): void => {
          if (p.parkedLines !== 0) return;
          sender.off('progress', onProgress);
          resolve();
        };
        sender.on('progress', onProgress);
      });
      goip01.sendKeepalive();
      await unparked;
      const second = enqueue(outbox, 20);
      const again = results(sender, 20, outbox);
      sender.kick();
      await again;
      assert.ok(final(outbox, second).every((r) => r.state === 'sent'));
      assert.ok(ledger.sent.some((s) => s.line === 'goip01'), 'goip01 sends again');
      assert.deepEqual(ledger.duplicates(), []);
    });

    it('runs fewer sessions on a line that answers too_many_sends_in_server and retries later', async () => {
      const { server, outbox, sender, ledger } = await start({ sim: { maxSessions: 1 } });
      let tooMany = 0;
      server.on('reply', (_line, reply) => {
        if (reply.kind === 'reply' && reply.verb === 'ERROR' && reply.rest === 'too_many_sends_in_server') tooMany++;
      });
      const ids = enqueue(outbox, 12);
      const done = results(sender, 12, outbox);
      sender.kick();
      await done;
      assert.ok(tooMany >= 1, 'the line refused a second session');
      assert.ok(final(outbox, ids).every((r) => r.state === 'sent' && r.attempts === 1));
      assert.deepEqual(ledger.duplicates(), []);
    });

    it('fails at start the queued numbers of a batch pinned to a line that is no longer configured', async () => {
      const { outbox, sender, newSender } = await start();
      await sender.stop();
      const gone = enqueue(outbox, 2, { line: 'goip09' });
      const kept = enqueue(outbox, 2);
      const restarted = newSender();
      const got: Recipient[] = [];
      restarted.on('result', (r) => got.push(r));
      const done = results(restarted, 4, outbox);
      restarted.start();
      restarted.kick();
      await done;

      for (const r of final(outbox, gone)) {
        assert.equal(r.state, 'failed');
        assert.equal(r.error, 'line goip09 is no longer configured (batch pinned to it)');
      }
      for (const r of final(outbox, kept)) assert.equal(r.state, 'sent', `${r.messageId}: ${r.error}`);
      assert.equal(new Set(got.map((r) => r.messageId)).size, 4, 'one result each');
    });

    it('keeps a pinned batch on its line: a radio failure fails the number instead of moving it', async () => {
      const failing = new Set<string>();
      const { outbox, sender, ledger } = await start({
        lines: 2,
        // goip02's radio cannot reach some numbers; goip01 could, but the batch is pinned to goip02.
        perLine: (i) => (i === 1 ? { failNumbers: (n: string) => failing.has(n) } : {}),
      });
      const ids = enqueue(outbox, 10, { line: 'goip02' });
      const bad = (outbox.get(ids[3]) as Recipient).number;
      failing.add(bad);
      const done = results(sender, 10, outbox);
      sender.kick();
      await done;

      for (const r of final(outbox, ids)) {
        assert.equal(r.line, 'goip02');
        if (r.number === bad) {
          assert.equal(r.state, 'failed');
          assert.equal(r.attempts, 1);
          assert.match(r.error ?? '', /pinned to goip02/);
        } else {
          assert.equal(r.state, 'sent');
        }
      }
      assert.ok(ledger.sent.every((s) => s.line === 'goip02'));
      assert.deepEqual(ledger.duplicates(), []);
    });

    it('resumes claimed numbers after a restart with the same line, sendid and telid, without duplicates', async () => {
      const { outbox, sender, ledger } = await start({ lines: 2, sim: { smsRadioTimeMs: 40 } });
      const ids = enqueue(outbox, 40);
      const firstPart = results(sender, 10, outbox);
      sender.kick();
      await firstPart;
      await sender.stop();
      const claimed = outbox.claimedRecipients();
      assert.ok(claimed.length > 0, 'numbers were in flight when the sender stopped');
      const finalBefore = outbox.all().filter((r) => r.state === 'sent' || r.state === 'failed').length;

      const restarted = (rig as Rig).newSender();
      const rest = results(restarted, 40 - finalBefore, outbox);
      restarted.start();
      await rest;

      const recipients = final(outbox, ids);
      assert.ok(recipients.every((r) => r.state === 'sent'), JSON.stringify(recipients.filter((r) => r.state !== 'sent')));
      for (const before of claimed) {
        const after = outbox.get(before.messageId) as Recipient;
        assert.equal(after.line, before.line);
        assert.equal(after.sendId, before.sendId);
        assert.equal(after.telId, before.telId);
        assert.equal(after.attempts, 1);
      }
      assert.deepEqual(ledger.duplicates(), []);
      assert.equal(ledger.sent.length, 40);
    });

    it('a resumed session re-asks only its claimed numbers: it never reuses a telid the line may remember from before the restart', async () => {
      // One session's telids went on beyond an older number still claimed (accepted long ago, its
      // result never stored): the line remembers the newer telids, so reusing them after the
      // restart would be answered from its memory and the new numbers would never be sent.
      const { outbox, sender, ledger } = await start({ bulk: { sessionsPerLine: 1, numbersPerSession: 100 }, sim: { telidMemory: 10 } });
      const ids = enqueue(outbox, 30);
      const firstPart = results(sender, 15, outbox);
      sender.kick();
      await firstPart;
      await sender.stop();
      const line = (rig as Rig).lines[0];
      while (line.radioBacklog > 0) await new Promise((resolve) => ledger.once('sent', resolve));
      const inner = (outbox as unknown as { inner: { recipients?: Map<string, object>; db?: { prepare(sql: string): { run(...args: unknown[]): unknown } } } }).inner;
      const setState = (messageId: string, state: 'claimed' | 'sent' | 'queued', smsNo: number | null): void => {
        if (inner.recipients !== undefined) Object.assign(inner.recipients.get(messageId) ?? assert.fail('no stored recipient'), { state, smsNo });
        else inner.db?.prepare('UPDATE recipients SET state = ?, sms_no = ? WHERE message_id = ?').run(state, smsNo, messageId);
      };
      // What was on the radio at the stop is stored as sent, the rest queued again: the session's
      // newest telids are then all stored final ...
      const inFlight = new Set(outbox.claimedRecipients().map((r) => r.number));
      for (const r of outbox.claimedRecipients()) {
        const onAir = ledger.sent.find((sms) => sms.number === r.number);
        setState(r.messageId, onAir === undefined ? 'queued' : 'sent', onAir?.smsNo ?? null);
      }
      const sent = outbox.all().filter((r) => r.state === 'sent');
      const session = sent[sent.length - 1].sendId;
      // ... but for an older one, still claimed: accepted long ago, its result never stored.
      const older = sent.filter((r) => r.sendId === session).sort((a, b) => (a.telId ?? 0) - (b.telId ?? 0))[0];
      setState(older.messageId, 'claimed', null);
      assert.equal(outbox.get(older.messageId)?.state, 'claimed');
      const finalBefore = outbox.all().filter((r) => r.state === 'sent' || r.state === 'failed').length;

      const restarted = (rig as Rig).newSender();
      const rest = results(restarted, 30 - finalBefore, outbox);
      restarted.start();
      await rest;

      assert.ok(final(outbox, ids).every((r) => r.state === 'sent'));
      // One sendid/telid is one number: a telid reused for another number is the line's memory answering instead of sending.
      const numbersOf = new Map<string, Set<string>>();
      for (const sms of ledger.sent) {
        const key = `${sms.sendId}/${sms.telId}`;
        numbersOf.set(key, (numbersOf.get(key) ?? new Set()).add(sms.number));
      }
      assert.deepEqual([...numbersOf].filter(([, numbers]) => numbers.size > 1).map(([key, numbers]) => [key, [...numbers]]), [], 'telids reused for another number');
      assert.deepEqual(ledger.duplicates().filter((d) => !inFlight.has(d.number) && d.number !== older.number).map((d) => d.number), [], 'numbers sent twice');
      assert.deepEqual(ids.filter((id) => !ledger.sent.some((s) => s.number === (outbox.get(id) as Recipient).number)), [], 'every number on the air');
    });

    it('after a restart, reopens the session of a line that forgot it and sends its numbers there (at least once)', async () => {
      const { outbox, sender, ledger, line } = await start({ sim: { smsRadioTimeMs: 40 } });
      const ids = enqueue(outbox, 12);
      const firstPart = results(sender, 4, outbox);
      sender.kick();
      await firstPart;
      await sender.stop();
      const claimed = outbox.claimedRecipients();
      assert.ok(claimed.length > 0);
      // The line reboots: its sessions and its radio queue are gone.
      const goip01 = line('goip01');
      await goip01.stop();
      const back = new Promise<void>((resolve) => goip01.once('registered', () => resolve()));
      await goip01.start();
      await back;

      const restarted = (rig as Rig).newSender();
      const finalBefore = outbox.all().filter((r) => r.state === 'sent' || r.state === 'failed').length;
      const rest = results(restarted, 12 - finalBefore, outbox);
      restarted.start();
      await rest;

      for (const r of final(outbox, ids)) assert.equal(r.state, 'sent');
      for (const before of claimed) {
        const after = outbox.get(before.messageId) as Recipient;
        assert.equal(after.sendId, before.sendId, 'reopened under the same sendid');
        assert.equal(after.telId, before.telId);
      }
      // Only numbers in flight at the restart may have gone out twice (the documented case).
      const inFlight = new Set(claimed.map((r) => r.number));
      for (const d of ledger.duplicates()) assert.ok(inFlight.has(d.number), `${d.number} duplicated`);
    });

    it('stops at the daily limit of a line and paces new numbers by minIntervalMs', async () => {
      const { outbox, sender, ledger } = await start({ bulk: { dailyLimit: 3, minIntervalMs: 80 }, fakeTime: true });
      const ids = enqueue(outbox, 5);
      const idle = new Promise<void>((resolve) => {
        sender.on('progress', (p) => {
          if (p.sent === 3 && p.sessions === 0 && p.inFlight === 0) resolve();
        });
      });
      sender.kick();
      await idle;
      assert.equal(final(outbox, ids).filter((r) => r.state === 'sent').length, 3);
      assert.equal(outbox.queuedCount(), 2, 'the rest waits for tomorrow');
      assert.equal(ledger.sent.length, 3);
      const gaps = ledger.sent.slice(1).map((s, i) => s.at - ledger.sent[i].at);
      for (const gap of gaps) assert.ok(gap >= 80, `${gap} ms between two SMS of the line`);
    });

    it('stores a null sms_no when old firmware answers OK without one', async () => {
      const { outbox, sender } = await start({ sim: { firmware: 'old' } });
      const ids = enqueue(outbox, 2);
      const done = results(sender, 2, outbox);
      sender.kick();
      await done;
      for (const r of final(outbox, ids)) {
        assert.equal(r.state, 'sent');
        assert.equal(r.smsNo, null);
      }
    });

    it('starts a fresh session after numbersPerSession numbers', async () => {
      const { outbox, sender } = await start({ bulk: { numbersPerSession: 3, sessionsPerLine: 1 } });
      const ids = enqueue(outbox, 7);
      const done = results(sender, 7, outbox);
      sender.kick();
      await done;
      const perSession = new Map<number, number[]>();
      for (const r of final(outbox, ids)) perSession.set(r.sendId as number, [...(perSession.get(r.sendId as number) ?? []), r.telId as number]);
      assert.equal(perSession.size, 3);
      for (const telIds of perSession.values()) assert.deepEqual(telIds, [1, 2, 3].slice(0, telIds.length));
    });

    it('parks a line that refuses the bulk password and moves its claimed numbers to another line', async () => {
      const { server, outbox, sender, ledger, line } = await start({ lines: 2 });
      // goip01 becomes a hand-played line whose bulk password check always fails.
      await line('goip01').stop();
      const fake = await UdpPeer.open();
      const passwords: string[] = [];
      fake.socket.on('message', (buffer) => {
        const text = buffer.toString('utf8');
        const m = /^(MSG|PASSWORD|DONE) (\d+)/.exec(text);
        if (m === null) return;
        const [, verb, sendId] = m;
        if (verb === 'PASSWORD') passwords.push(text);
        const answer = verb === 'MSG' ? `PASSWORD ${sendId}\n` : verb === 'PASSWORD' ? `ERROR ${sendId} PASSWORD\n` : `DONE ${sendId}\n`;
        void fake.send(answer, server.address()?.port as number);
      });
      try {
        const registered = new Promise<void>((resolve) =>
          server.on('event', (e) => e.event === 'keepalive' && e.line === 'goip01' && server.line('goip01')?.port === fake.port && resolve()),
        );
        await fake.send(formatKeepalive({ count: 1, id: 'goip01', password: PASSWORD, fields: { gsm_status: 'LOGIN' } }), server.address()?.port as number);
        await registered;
        let parkedSeen = false;
        sender.on('progress', (p) => (parkedSeen ||= p.parkedLines > 0));
        const ids = enqueue(outbox, 8);
        const done = results(sender, 8, outbox);
        sender.kick();
        await done;

        assert.ok(parkedSeen, 'goip01 was parked');
        assert.ok(passwords.length >= 1 && passwords.every((p) => p.endsWith(` ${PASSWORD}\n`)));
        const recipients = final(outbox, ids);
        assert.ok(recipients.every((r) => r.state === 'sent' && r.line === 'goip02'));
        assert.ok(recipients.some((r) => r.excludedLines.includes('goip01')), 'numbers goip01 had claimed moved over');
        assert.ok(ledger.sent.every((s) => s.line === 'goip02'));
      } finally {
        await fake.close();
      }
    });

    it('correlates each delivery report to the messageId of its send', async () => {
      const { server, outbox, sender } = await start({ sim: { deliveryReportAfterMs: 30, deliveryState: 0 } });
      const correlate = deliveryCorrelator(asynchronousOf(outbox, ['correlateDelivery', 'markDelivery', 'findSentTo']), sender.options.deliveryWindowMs, (err) => assert.fail(String(err)));
      const deliveries: DeliveryPayload[] = [];
      const allDelivered = new Promise<void>((resolve) => {
        server.on('event', async (e) => {
          if (e.event !== 'delivery') return;
          const report = e.payload as DeliveryPayload;
          deliveries.push({ ...report, messageId: await correlate(e.line, report) });
          if (deliveries.length === 4) resolve();
        });
      });
      const ids = enqueue(outbox, 4);
      sender.kick();
      await allDelivered;
      for (const payload of deliveries) {
        const r = final(outbox, ids).find((x) => x.number === payload.to) as Recipient;
        assert.equal(payload.messageId, r.messageId);
        assert.equal(payload.smsNo, r.smsNo);
        assert.equal(payload.status, 'delivered');
        assert.equal((outbox.get(r.messageId) as Recipient).deliveryState, 0);
      }
    });
  });
});
