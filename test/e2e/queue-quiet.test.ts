/**
 * Quiet hours in a real Node-RED: goip-config `quietHours` around the present
 * minute, local time of the Node-RED process; a normal batch queued first waits, a high-priority
 * one passes.
 */
import assert from 'node:assert/strict';
import { numbers, QueueRig } from '../helpers/queue-rig';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';

/** `HH:MM-HH:MM` from a minute before now to an hour after, in this process's local time (the child's too). */
function quietAroundNow(): string {
  const at = (offsetMin: number): string => {
    const d = new Date(Date.now() + offsetMin * 60_000);
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  };
  return `${at(-1)}-${at(60)}`;
}

for (const runtime of RUNTIMES) describe(`queue: quiet hours in a real Node-RED (${runtime.name})`, function () {
  this.timeout(120_000);

  const rig = new QueueRig({ quietHours: quietAroundNow() });

  before(async function () {
    skipUnavailable(this, runtime);
    await rig.start(runtime);
  });

  after(() => rig.cleanup());

  it('starts no normal SEND inside quiet hours, while high priority goes on the air', async () => {
    const normal = numbers('1331', 2);
    const urgent = numbers('1332', 1);
    await rig.send({ to: normal, batchId: 'quietNormal' });
    await rig.send({ to: urgent, batchId: 'quietUrgent', priority: 'high' });
    const [result] = await rig.resultsOf('quietUrgent', 1);
    assert.equal(result.result.status, 'sent');
    assert.deepEqual(rig.ledger.sent.map((sms) => sms.number), urgent, 'only the high-priority number went on the air');
    const status = await rig.queue({ action: 'status', batchId: 'quietNormal' });
    assert.deepEqual([status.queued, status.claimed, status.sent], [2, 0, 0], 'the normal batch waits for the quiet hours to end');
  });
});
