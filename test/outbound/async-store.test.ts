/**
 * The engine on a store that answers later, as one across the network does: every store call and
 * every commit settles after a round trip. Sending still ends every number once, and no SEND leaves
 * before the claim behind it is on the disk.
 */
import assert from 'node:assert/strict';
import { sendPortOf, SqliteOutbox } from '../../src/outbox';
import { numbers, type FleetRig, startFleetRig } from '../helpers/fleet-rig';
import { RecordingOutbox } from '../helpers/recording-outbox';
import { slowStore } from '../helpers/slow-store';

const ROUND_TRIP_MS = 2;

describe('bulk send on an asynchronous store', () => {
  let rig: FleetRig | null = null;
  afterEach(async () => {
    await rig?.stop();
    rig = null;
  });

  for (const loss of [0, 0.1]) {
    it(`sends every number once, each SEND after its claim is durable (${loss * 100}% loss)`, async function () {
      this.timeout(60_000);
      const outbox = new RecordingOutbox(SqliteOutbox.open(':memory:', { now: () => Date.now() }));
      rig = await startFleetRig({
        working: 3,
        outbox,
        store: (inner) => slowStore(sendPortOf(inner), ROUND_TRIP_MS),
        sim: { smsRadioTimeMs: 5, ...(loss > 0 ? { faults: { loss, duplicate: 0.05, reorder: 0.05, delayMs: [0, 3] as [number, number], seed: 11 } } : {}) },
        bulk: { stepTimeoutMs: 80, waitRecheckMs: 300 },
      });
      const warnings: Error[] = [];
      rig.sender.on('warning', (err) => warnings.push(err));
      const early: string[] = [];
      const { lines } = rig;
      rig.server.on('datagramOut', (text, _address, port) => {
        const m = /^SEND (\d+) (\d+) /.exec(text);
        if (m === null) return;
        const line = lines.find((l) => l.address?.port === port)?.id;
        if (!outbox.claims.some((c) => c.committed && c.line === line && c.sendId === Number(m[1]) && c.telId === Number(m[2]))) early.push(text);
      });
      const done = rig.results(30);
      const ids = rig.enqueue(numbers('4930', 30));
      const results = await done;

      assert.deepEqual(early, [], 'no SEND before its claim is on the disk');
      assert.deepEqual(warnings, []);
      assert.equal(new Set(results.map((r) => r.messageId)).size, 30, 'one result per number');
      for (const id of ids) assert.equal(outbox.get(id)?.state, 'sent', id);
      assert.deepEqual(rig.ledger.duplicates(), []);
      assert.equal(outbox.claimedCount(), 0);
    });
  }
});
