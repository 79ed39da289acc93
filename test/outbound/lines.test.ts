/**
 * The engine's pure parts and its timers, without a socket: bulk replies typed, where a number
 * goes after a line gave up on it, the session cap, round trips and radio pace, the timer
 * registry that lets arrived input be read before a silence is decided, and the line policy
 * (the line order, pacing and the hourly cap, quiet hours).
 */
import assert from 'node:assert/strict';
import type { Recipient } from '../../src/outbox/types';
import { parseBulkReply, parseDeviceMessage, type Reply } from '../../src/protocol';
import { type BulkOptions } from '../../src/outbound';
import { DEFAULT_BULK_OPTIONS } from '../../src/outbound/options';
import { RadioPace, RoundTrip, retransmitDelay, SlowestRecent } from '../../src/outbound/lines/timing';
import { afterLineGaveUp, drawJitter, hourlyLimitReached, LineOrder, localDay, parseQuietHours, quietUntil, sendDelay, sessionCap } from '../../src/outbound/lines/policy';
import { TimerRegistry } from '../../src/outbound/lines/timers';

describe('bulk send: lines, pace and timers', () => {
describe('pure parts', () => {
  const reply = (text: string): Reply => parseDeviceMessage(text) as Reply;

  it('types every bulk reply of the spec and of real firmware', () => {
    assert.deepEqual(parseBulkReply(reply('PASSWORD 11\n')), { kind: 'passwordRequest', sendId: 11 });
    assert.deepEqual(parseBulkReply(reply('SEND 11\n')), { kind: 'ready', sendId: 11 });
    assert.deepEqual(parseBulkReply(reply('WAIT 11 2\n')), { kind: 'wait', sendId: 11, telId: 2 });
    assert.deepEqual(parseBulkReply(reply('OK 11 2\n')), { kind: 'sent', sendId: 11, telId: 2, smsNo: null });
    assert.deepEqual(parseBulkReply(reply('OK 11 2 32\n')), { kind: 'sent', sendId: 11, telId: 2, smsNo: 32 });
    assert.deepEqual(parseBulkReply(reply('ERROR 11 2 errorstatus:1\n')), { kind: 'sendFailed', sendId: 11, telId: 2, status: 'errorstatus:1' });
    assert.deepEqual(parseBulkReply(reply('ERROR 11 too_many_sends_in_server\n')), {
      kind: 'sessionError',
      sendId: 11,
      error: 'tooMany',
      text: 'too_many_sends_in_server',
    });
    assert.equal((parseBulkReply(reply('ERROR 11 PASSWORD\n')) as { error: string }).error, 'password');
    assert.equal((parseBulkReply(reply('ERROR 11 SENDID\n')) as { error: string }).error, 'unknownSession');
    assert.equal((parseBulkReply(reply('ERROR 11 GSM_LOGOUT\n')) as { error: string }).error, 'loggedOut');
    assert.equal((parseBulkReply(reply('ERROR 11 msg_length_error\n')) as { error: string }).error, 'other');
    assert.deepEqual(parseBulkReply(reply('DONE 11\n')), { kind: 'done', sendId: 11 });
    assert.equal(parseBulkReply(reply('get_gsm_num 11 +8613800000000')), null);
    assert.equal(parseBulkReply(reply('WAIT 11 x')), null);
    assert.equal(parseBulkReply(reply('OK -3 1')), null);
  });

  it('sends a number a line gave up on elsewhere, unless pinned, out of attempts or out of lines', () => {
    const r = { pinnedLine: null, attempts: 1, excludedLines: [] as string[] } as unknown as Recipient;
    const lines = ['a', 'b', 'c'];
    assert.deepEqual(afterLineGaveUp(r, 'a', 'x', 3, lines), { action: 'requeue' });
    assert.equal(afterLineGaveUp({ ...r, pinnedLine: 'a' }, 'a', 'x', 3, lines).action, 'fail');
    assert.equal(afterLineGaveUp({ ...r, attempts: 3 }, 'a', 'x', 3, lines).action, 'fail');
    assert.equal(afterLineGaveUp({ ...r, attempts: 2, excludedLines: ['b', 'c'] }, 'a', 'x', 3, lines).action, 'fail');
    assert.equal(localDay(new Date(2024, 0, 2, 23, 59).getTime()), '2024-01-02');
    const conditions = { park: null, busy: { cap: 1, until: 1000 }, silentSince: null, lastNewSendAt: null };
    const options = { sessionsPerLine: 2 } as BulkOptions;
    assert.equal(sessionCap(conditions, options, 999), 1);
    assert.equal(sessionCap(conditions, options, 1000), 2);
  });
});

describe('pace and timers', () => {
  const options = { ...DEFAULT_BULK_OPTIONS, stepTimeoutMs: 5000, minRetransmitMs: 500, initialRetransmitMs: 1000 };

  it('resends after the round-trip timeout (the line\'s, else all lines\'), doubled from the second resend, within its bounds', () => {
    const line = new RoundTrip();
    const all = new RoundTrip();
    const cap = 5000;
    assert.equal(retransmitDelay(line, all, 0, options, cap), 1000, 'nothing measured: initialRetransmitMs');
    all.note(800);
    assert.equal(all.timeout(), 800 + 4 * 400, 'first sample: srtt + 4 x srtt/2');
    assert.equal(retransmitDelay(line, all, 0, options, cap), 2400, 'the fleet\'s timeout for a line not measured yet');
    line.note(10);
    assert.equal(retransmitDelay(line, all, 0, options, cap), 500, 'never below minRetransmitMs');
    assert.equal(retransmitDelay(line, all, 1, options, cap), 500, 'a second quick try: random loss is not congestion');
    assert.equal(retransmitDelay(line, all, 2, options, cap), 1000);
    assert.equal(retransmitDelay(line, all, 4, options, cap), 4000);
    assert.equal(retransmitDelay(line, all, 5, options, cap), 5000, 'never above the cap');
    assert.equal(retransmitDelay(line, all, 9, options, 30_000), 30_000, 're-asks back off up to their own cap');
    for (let i = 0; i < 50; i++) line.note(2000);
    assert.ok((line.timeout() as number) > 2000 && (line.timeout() as number) < 2100, `converges on a steady round trip: ${line.timeout()}`);
  });

  it('measures radio time only from pushed results whose start on the radio is known', () => {
    const pace = new RadioPace();
    const result = (at: number, takenAt: number, acceptedAt: number, pushed = true, queuedBehind = false) => ({ at, takenAt, acceptedAt, pushed, queuedBehind });
    assert.equal(pace.noteResult(result(1000, 690, 700), null), 310, 'idle radio: from when the line took it');
    assert.equal(pace.noteResult(result(1350, 790, 800), 310), 350, 'queued behind the previous one: from its result');
    assert.equal(pace.noteResult(result(1700, 890, 900, true, true), 350), null, 'a number possibly ahead has no result: start unknown');
    assert.equal(pace.noteResult(result(2100, 1740, 1750, false), null), null, 'an answer to a re-ask is not when the radio finished');
    assert.equal(pace.noteResult(result(2300, 1790, 1800), null), null, 'after a re-ask answer the previous finish is unknown');
    assert.equal(pace.noteResult(result(2700, 2390, 2400), null), 310, 'taken after that answer: from when it was taken again');
    assert.equal(pace.samples.value(), 350, 'the slowest of the samples');
    const on = { ...options, overdueFactor: 1.5 };
    const none = { count: 0, firstAcceptedAt: null };
    assert.equal(pace.overdueAt(2650, none, 350, on), 2700 + 525, 'from the later of its WAIT and the last result');
    assert.equal(pace.overdueAt(3000, none, 350, on), 3000 + 525);
    assert.equal(pace.overdueAt(3000, { count: 1, firstAcceptedAt: 2900 }, 350, on), 2900 + 350 + 525, 'one SMS more per number possibly ahead, from the earliest WAIT');
    assert.equal(pace.overdueAt(3000, none, 350, { ...options, overdueFactor: 0 }), null, 'overdueFactor 0 turns it off');
  });

  it('takes a number found done by a re-ask as finished at its expected time, for the number behind it', () => {
    const on = { ...options, overdueFactor: 1.5 };
    const none = { count: 0, firstAcceptedAt: null };
    const pace = new RadioPace();
    pace.noteResult({ at: 1000, takenAt: 690, acceptedAt: 700, pushed: true, queuedBehind: false }, null);
    // The next one (accepted at 900, so on the radio from 1000) is found done by a re-ask at 1600.
    assert.equal(pace.noteResult({ at: 1600, takenAt: 890, acceptedAt: 900, pushed: false, queuedBehind: false }, 300), null);
    assert.equal(pace.overdueAt(950, none, 300, on), 1300 + 450, 'the one behind it started at about 1000 + 300, not at 1600');
    // Without a known pace the late answer is all there is.
    const unknown = new RadioPace();
    unknown.noteResult({ at: 1000, takenAt: 690, acceptedAt: 700, pushed: true, queuedBehind: false }, null);
    unknown.noteResult({ at: 1600, takenAt: 890, acceptedAt: 900, pushed: false, queuedBehind: false }, null);
    assert.equal(unknown.overdueAt(950, none, 300, on), 1600 + 450);
  });

  it('trusts the slowest of the recent samples only once there are enough', () => {
    const recent = new SlowestRecent(2, 2);
    recent.note(400);
    assert.equal(recent.value(), null);
    recent.note(200);
    assert.equal(recent.value(), 400);
    recent.note(150);
    assert.equal(recent.value(), 200, 'the oldest sample left the window');
  });

  it('runs an expired timer only after the input that arrived meanwhile was read', async () => {
    let received = 0;
    const timers = new TimerRegistry(() => received);
    const order: string[] = [];
    // A flood of input: each loop turn reads more, five turns long.
    let turns = 0;
    const flood = (): void => {
      received++;
      order.push('input');
      if (++turns < 5) setImmediate(flood);
    };
    await new Promise<void>((resolve) => {
      timers.after(0, () => {
        order.push('timer');
        resolve();
      });
      setTimeout(flood, 0);
    });
    assert.deepEqual(order, ['input', 'input', 'input', 'input', 'input', 'timer']);

    // Input arrives and the timer is cancelled in the turn it expired, while it waits for that
    // input to be read (a second setTimeout could fire a turn later and race it).
    let expired = false;
    const cancelled = new TimerRegistry(() => {
      if (!expired) {
        expired = true;
        queueMicrotask(() => {
          received++;
          cancelled.cancel(handle);
        });
      }
      return received;
    });
    let ran = false;
    const handle = cancelled.after(0, () => (ran = true));
    // Turns until it expired, then two more: enough for a timer left waiting to run.
    await new Promise<void>((resolve) => {
      const turn = (): void => void (expired ? setImmediate(() => setImmediate(resolve)) : setImmediate(turn));
      turn();
    });
    assert.equal(ran, false, 'a timer cancelled while it waits for input never runs');
    assert.equal(cancelled.size, 0);
  });
});

describe('line policy', () => {
  it('orders lines by policy: spread as configured, roundrobin after the last, random by the source, leastUsed by today\'s count', () => {
    const lines = ['a', 'b', 'c', 'd'].map((id) => ({ id }));
    const ids = (order: Array<{ id: string }>): string[] => order.map((line) => line.id);
    assert.deepEqual(ids(new LineOrder('spread', Math.random).order(lines, () => 0)), ['a', 'b', 'c', 'd']);
    const rr = new LineOrder('roundrobin', Math.random);
    const firsts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const [first] = rr.order(lines, () => 0);
      firsts.push(first.id);
      rr.opened(first.id);
    }
    assert.deepEqual(firsts, ['a', 'b', 'c', 'd', 'a']);
    assert.deepEqual(ids(new LineOrder('random', () => 0).order(lines, () => 0)), ['b', 'c', 'd', 'a']);
    const used: Record<string, number> = { a: 9, b: 3, c: 0, d: 3 };
    assert.deepEqual(ids(new LineOrder('leastUsed', Math.random).order(lines, (id) => used[id])), ['c', 'b', 'd', 'a']);
  });

  it('paces a line by sendInterval plus a jitter drawn per gap, and caps it per rolling hour', () => {
    const options = { ...DEFAULT_BULK_OPTIONS, minIntervalMs: 2000, jitterMs: 3000, hourlyLimit: 5 };
    const jitterMs = drawJitter(options, () => 0.5);
    assert.equal(jitterMs, 1500);
    const conditions = { park: null, busy: null, silentSince: null, lastNewSendAt: 10_000, jitterMs };
    assert.equal(sendDelay(conditions, options, 10_000), 3500);
    assert.equal(sendDelay(conditions, options, 13_500), 0);
    assert.equal(drawJitter({ ...options, jitterMs: 0 }, () => 0.9), 0);
    assert.equal(hourlyLimitReached(4, 0, options), false);
    assert.equal(hourlyLimitReached(4, 1, options), true);
    assert.equal(hourlyLimitReached(99, 0, { ...options, hourlyLimit: 0 }), false);
  });

  it('parses quiet hours and tells when the window `now` is in ends, past midnight too', () => {
    assert.deepEqual(parseQuietHours(''), { quietFromMinute: 0, quietMinutes: 0 });
    const night = parseQuietHours('21:00-08:00');
    assert.deepEqual(night, { quietFromMinute: 21 * 60, quietMinutes: 11 * 60 });
    const at = (h: number, m = 0, day = 31): number => new Date(2025, 0, day, h, m).getTime();
    assert.equal(quietUntil(at(22), night), at(8, 0, 32));
    assert.equal(quietUntil(at(7, 59), night), at(8));
    assert.equal(quietUntil(at(8), night), null);
    assert.equal(quietUntil(at(20, 59), night), null);
    assert.equal(quietUntil(at(13), parseQuietHours('12:30 - 14:00')), at(14));
    assert.equal(quietUntil(at(13), parseQuietHours('')), null);
    for (const bad of ['21-08', '25:00-08:00', '21:00-08:60', 'night']) assert.throws(() => parseQuietHours(bad), /quiet hours/);
  });
});
});
