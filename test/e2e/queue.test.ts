/**
 * The operator's send queue end to end: a real Node-RED child process with goip-send,
 * goip-queue and goip-in, simulated GoIP lines in this process, results and events posted to an
 * HTTP sink here. Priority, sendAt, expiry with every line offline, cancel mid-batch, opt-out by
 * STOP, expiry, schedule and the block list across a kill -9 and restart, and a retry of what
 * expired (priority and a cancel's results across a kill -9: queue-crash.test.ts).
 */
import assert from 'node:assert/strict';
import { LINES, numbers, QueueRig, TEXT, WAIT_MS } from '../helpers/queue-rig';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';

for (const runtime of RUNTIMES) describe(`queue: priority, schedule, expiry, cancel and opt-out in a real Node-RED (${runtime.name})`, function () {
  this.timeout(120_000);

  const rig = new QueueRig();

  before(async function () {
    skipUnavailable(this, runtime);
    await rig.start(runtime);
  });

  after(() => rig.cleanup());

  it('sends high priority in the next radio slots ahead of 200 queued normal, and a cancel mid-batch stops the rest with one result each', async () => {
    const bulk = numbers('1390', 200);
    const urgent = numbers('1370', 3);
    await rig.send({ to: bulk, batchId: 'bulk' });
    await rig.waitOnAir(10);
    const before = rig.ledger.sent.length;
    await rig.send({ to: urgent, batchId: 'urgent', priority: 'high' });
    await rig.resultsOf('urgent', 3);
    const positions = urgent.map((number) => rig.ledger.sent.findIndex((sms) => sms.number === number) - before);
    // Ahead of them at most what each line's sessions had on its radio (2 per line) and what
    // left while the POST was on its way; in enqueue order they would be behind ~190 more.
    assert.ok(Math.max(...positions) < 4 * LINES + 3, `high-priority numbers went out at ${positions} after their submission`);
    if (process.env.GOIP_TEST_VERBOSE === '1') console.log(`      high priority on the air at positions ${positions} after the submission (${before} sent before)`);
    assert.ok(rig.results('urgent').every((r) => r.result.status === 'sent'));

    const answer = await rig.queue({ action: 'cancel', batchId: 'bulk' });
    const onAirAtAnswer = rig.onAir(bulk);
    assert.ok(answer.cancelled > 0, `cancelled mid-batch: ${JSON.stringify(answer)}`);
    assert.deepEqual(Object.keys(answer).sort(), ['batchId', 'cancelled', 'inFlight']);
    const all = await rig.resultsOf('bulk', 200);
    assert.equal(new Set(all.map((r) => r.result.messageId)).size, 200, 'one result per recipient');
    assert.deepEqual(all.map((r) => r.parts.index).sort((a, b) => a - b), [...Array(200).keys()]);
    const cancelled = all.filter((r) => r.result.status === 'cancelled');
    const sent = all.filter((r) => r.result.status === 'sent');
    assert.equal(cancelled.length, answer.cancelled);
    assert.equal(cancelled.length + sent.length, 200);
    assert.ok(rig.onAir(bulk) <= onAirAtAnswer + answer.inFlight, `on the air ${rig.onAir(bulk)} after the cancel answered ${onAirAtAnswer} + ${answer.inFlight} in flight`);
    assert.equal(rig.onAir(bulk), sent.length, 'every sent one once, no cancelled one on the air');
    const status = await rig.queue({ action: 'status', batchId: 'bulk' });
    assert.deepEqual([status.queued, status.claimed, status.sent, status.cancelled], [0, 0, sent.length, cancelled.length]);
  });

  it('sends nothing before sendAt and goes within a second of it', async () => {
    const sendAt = Date.now() + 2000;
    await rig.send({ to: '+8613600000001', batchId: 'scheduled', sendAt: new Date(sendAt).toISOString() });
    const [result] = await rig.resultsOf('scheduled', 1);
    assert.equal(result.result.status, 'sent');
    const sms = rig.ledger.sent.find((s) => s.number === '+8613600000001');
    assert.ok(sms !== undefined && sms.at >= sendAt && sms.at < sendAt + 1000, `sent at ${sms && sms.at - sendAt} ms after sendAt`);
  });

  it('blocks a number that sent STOP: goip-in tells optout and a later send to it ends blocked without going on the air', async () => {
    const number = '+8613500000001';
    const received = await rig.fleet?.line('goip02')?.receiveSms(number, '  stop ');
    assert.ok(received?.acked);
    await rig.sink.waitFor('/event', () => rig.events('optout').length > 0, WAIT_MS, () => 'no optout event');
    assert.deepEqual(rig.events('optout'), [{ event: 'optout', payload: { number, keyword: 'STOP', line: 'goip02' } }]);
    await rig.send({ to: number, batchId: 'toBlocked' });
    const [result] = await rig.resultsOf('toBlocked', 1);
    assert.deepEqual([result.result.status, result.result.line], ['blocked', null]);
    assert.equal(rig.onAir([number]), 0);
    assert.deepEqual(
      (await rig.queue({ action: 'blocked' })).map((b: { number: string; keyword: string }) => [b.number, b.keyword]),
      [[number, 'STOP']],
    );
  });

  it('keeps expiry, schedule and the block list across a kill -9: expired with every line offline, nothing of it on the air when they return', async () => {
    await rig.stopFleet();
    const expiring = '+8613400000001';
    const later = '+8613400000002';
    await rig.send({ to: expiring, batchId: 'expiring', validity: 2 });
    const sendAt = Date.now() + 9000;
    await rig.send({ to: later, batchId: 'later', sendAt, priority: 'high' });
    const exit = await rig.node().kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    await rig.node().start();

    // The lines are still away: the expiring one ends expired, out of the goip-send that queued it.
    const [expired] = await rig.resultsOf('expiring', 1);
    assert.deepEqual([expired.result.status, expired.result.to], ['expired', expiring]);
    await rig.startFleet();
    const [sent] = await rig.resultsOf('later', 1);
    assert.equal(sent.result.status, 'sent');
    const sms = rig.ledger.sent.find((s) => s.number === later);
    assert.ok(sms !== undefined && sms.at >= sendAt, 'sendAt honoured after the restart');
    assert.equal(rig.onAir([expiring]), 0, 'the expired one never went on the air');

    await rig.send({ to: '+8613500000001', batchId: 'stillBlocked' });
    const [blocked] = await rig.resultsOf('stillBlocked', 1);
    assert.equal(blocked.result.status, 'blocked', 'the block list survived the kill');
  });

  it('retries an expired recipient as a new attempt: it goes on the air and ends sent, a second result of the same messageId', async () => {
    const expiring = '+8613400000001';
    const [expired] = rig.results('expiring');
    assert.equal(expired?.result.status, 'expired', 'left by the kill -9 test');
    assert.deepEqual(await rig.queue({ action: 'retry', batchId: 'expiring' }), { batchId: 'expiring', queued: 1, blocked: 0 });
    const [, retried] = await rig.resultsOf('expiring', 2);
    assert.deepEqual([retried.result.status, retried.result.messageId], ['sent', expired.result.messageId]);
    assert.equal(rig.onAir([expiring]), 1);
    assert.deepEqual(await rig.queue({ action: 'retry', batchId: 'expiring' }), { batchId: 'expiring', queued: 0, blocked: 0 }, 'nothing failed or expired is left');
  });

  it('fails bad queue input with the reason and stores nothing', async () => {
    for (const [body, reason] of [
      [{ to: '+8613300000001', priority: 'urgent' }, /msg.priority must be high, normal, low/],
      [{ to: '+8613300000001', sendAt: 'tomorrow' }, /msg.sendAt must be a Date/],
      [{ to: '+8613300000001', validity: -5 }, /msg.validity must be a number of seconds above 0/],
      [{ to: '+8613300000001', validity: 5, expiresAt: Date.now() + 10_000 }, /not both/],
      [{ to: '+8613300000001', batchId: 'bulk' }, /batchId "bulk" is already in the queue/],
    ] as const) {
      const answer = await rig.node().request('POST', '/send', { text: TEXT, ...body });
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
      assert.match(answer.body, reason);
    }
    for (const [body, reason] of [
      [{ action: 'explode' }, /unknown action "explode"/],
      [{ action: 'cancel' }, /cancel needs msg.batchId or msg.messageId/],
      [{ action: 'retry', batchId: 'nope' }, /no batch "nope" in the queue/],
      [{ action: 'block', numbers: 'not-a-number' }, /"not-a-number" is not a phone number/],
    ] as const) {
      const answer = await rig.node().request('POST', '/queue', body);
      assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
      assert.match(answer.body, reason);
    }
    assert.equal((await rig.queue({ action: 'status' })).queued, 0);
    assert.equal(rig.onAir(['+8613300000001']), 0);
  });
});
