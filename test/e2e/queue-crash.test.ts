/**
 * The queue across a kill -9 of a real Node-RED (all of it survives a kill -9 and a
 * restart): the store must carry a high priority queued behind a running batch into the
 * restarted process, and a cancel's results that were still inside the flow come out after it.
 */
import assert from 'node:assert/strict';
import { LINES, numbers, QueueRig, WAIT_MS } from '../helpers/queue-rig';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';
import { until } from '../helpers/until';

/** How far ahead the high-priority numbers are due: well after the kill, while the batch still runs after the restart. */
const DUE_IN_MS = 2000;
/** Kill once this many of the batch went over the air. */
const KILL_AFTER = 10;

for (const runtime of RUNTIMES) describe(`queue: priority and cancel across a kill -9 of a real Node-RED (${runtime.name})`, function () {
  this.timeout(120_000);

  const rig = new QueueRig();

  before(async function () {
    skipUnavailable(this, runtime);
    await rig.start(runtime);
  });

  after(() => rig.cleanup());

  /** Kills Node-RED and starts it again on the same user directory, store and UDP port. */
  async function killAndRestart(): Promise<void> {
    const exit = await rig.node().kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    await rig.node().start();
  }

  /** Waits until KILL_AFTER of the batch went over the air. */
  function batchOnAir(bulk: readonly string[]): Promise<void> {
    return until(() => rig.onAir(bulk) >= KILL_AFTER, [[rig.ledger, 'sent']], WAIT_MS, () => `${rig.onAir(bulk)} of the batch on the air`);
  }

  /** Waits until every one of `numbers` went over the air. */
  function allOnAir(numbers: readonly string[]): Promise<void> {
    const missing = (): string[] => numbers.filter((number) => rig.onAir([number]) === 0);
    return until(() => missing().length === 0, [[rig.ledger, 'sent']], WAIT_MS, () => `${missing().length} numbers never on the air\n${rig.node().output().slice(-2000)}`);
  }

  it('sends high priority queued before the kill ahead of the rest of the batch after the restart', async () => {
    const bulk = numbers('1391', 200);
    const urgent = numbers('1371', 3);
    await rig.send({ to: bulk, batchId: 'crashBulk' });
    const dueAt = Date.now() + DUE_IN_MS;
    await rig.send({ to: urgent, batchId: 'crashUrgent', priority: 'high', sendAt: dueAt });
    await batchOnAir(bulk);
    await killAndRestart();
    assert.equal(rig.onAir(urgent), 0, 'no high-priority number went out before the kill');
    const atRestart = rig.ledger.sent.length;

    const results = await rig.resultsOf('crashUrgent', urgent.length);
    assert.deepEqual(results.map((r) => r.result.status), ['sent', 'sent', 'sent']);
    await allOnAir(bulk);
    const due = rig.ledger.sent.findIndex((sms) => sms.at >= dueAt);
    const positions = urgent.map((number) => rig.ledger.sent.findIndex((sms) => sms.number === number) - due);
    // Ahead of them at most what each line's sessions had on their radio when they fell due.
    assert.ok(due >= atRestart && Math.max(...positions) < 4 * LINES + 3, `high priority on the air at ${positions} after falling due (${due} sent before, ${atRestart} at the restart)`);
    const last = Math.max(...urgent.map((number) => rig.ledger.sent.findIndex((sms) => sms.number === number)));
    const behind = new Set(rig.ledger.sent.slice(last + 1).map((sms) => sms.number).filter((number) => bulk.includes(number)));
    assert.ok(behind.size > 0, 'normal numbers of the batch were still queued behind them');
    if (process.env.GOIP_TEST_VERBOSE === '1') console.log(`      high priority at ${positions} after falling due, ${behind.size} of the batch behind them`);
  });

  it('gives every recipient of a batch cancelled just before the kill its final result after the restart', async () => {
    const bulk = numbers('1381', 200);
    await rig.send({ to: bulk, batchId: 'crashCancel' });
    await batchOnAir(bulk);
    const answer = await rig.queue({ action: 'cancel', batchId: 'crashCancel' });
    const onAirAtAnswer = rig.onAir(bulk);
    assert.equal((await rig.node().kill('SIGKILL')).signal, 'SIGKILL');
    const beforeRestart = rig.results('crashCancel').length;
    await rig.node().start();

    const byId = new Map<string, string[]>();
    const distinct = (): number => {
      byId.clear();
      for (const { result } of rig.results('crashCancel')) byId.set(result.messageId, [...(byId.get(result.messageId) ?? []), result.status]);
      return byId.size;
    };
    await rig.sink.waitFor('/result', () => distinct() === bulk.length, WAIT_MS, () => `${distinct()}/${bulk.length} recipients with a result (${beforeRestart} results before the restart)`);
    const statuses = [...byId.values()];
    assert.ok(statuses.every((seen) => seen.every((status) => status === seen[0])), 'a result emitted again says the same');
    assert.equal(statuses.filter((seen) => seen[0] === 'cancelled').length, answer.cancelled);
    assert.equal(statuses.filter((seen) => seen[0] === 'sent').length, bulk.length - answer.cancelled);
    assert.ok(rig.onAir(bulk) <= onAirAtAnswer + answer.inFlight, `on the air ${rig.onAir(bulk)} after the cancel answered ${onAirAtAnswer} + ${answer.inFlight} in flight`);
    const status = await rig.queue({ action: 'status', batchId: 'crashCancel' });
    assert.deepEqual([status.cancelled, status.sent, status.queued, status.claimed], [answer.cancelled, bulk.length - answer.cancelled, 0, 0]);
    if (process.env.GOIP_TEST_VERBOSE === '1') {
      const results = rig.results('crashCancel').length;
      console.log(`      ${beforeRestart} results before the kill, ${results - beforeRestart} after, ${results - bulk.length} twice`);
    }
  });
});
