/**
 * Fleet benchmark (mute lines): 8 working lines at a real 3 s per SMS and 8 lines
 * that register and keep alive but never answer a bulk session; 80 recipients in one batch on the
 * real clock. The working lines alone need 80 / 8 x 3 s = 30 s; the issue asks for 1.25 x that.
 * Runs alone (about 40 s): `node dist-test/bench/fleet.js`.
 */
import { numbers, startFleetRig } from '../test/helpers/fleet-rig';

const WORKING = 8;
const MUTE = 8;
const RECIPIENTS = 80;
const RADIO_MS = 3000;

export async function runMuteLines(): Promise<string> {
  const rig = await startFleetRig({ working: WORKING, mute: MUTE, sim: { smsRadioTimeMs: RADIO_MS, keepaliveIntervalMs: 30_000 } });
  try {
    const startedAt = Date.now();
    const done = rig.results(RECIPIENTS);
    rig.enqueue(numbers('8613900', RECIPIENTS));
    const results = await done;
    const elapsedS = (Date.now() - startedAt) / 1000;
    const limitS = (RECIPIENTS / WORKING) * (RADIO_MS / 1000);
    const onMute = rig.ledger.sent.filter((s) => rig.ids.indexOf(s.line) >= WORKING).length;
    return [
      `Fleet: ${WORKING} working lines (${RADIO_MS} ms per SMS) + ${MUTE} mute lines (keepalive, no bulk answer), ${RECIPIENTS} recipients, real clock`,
      '',
      '| elapsed s | working lines\' limit s | ratio | sent | failed | on mute lines | duplicates | quarantined lines |',
      '|---|---|---|---|---|---|---|---|',
      `| ${elapsedS.toFixed(1)} | ${limitS} | ${(elapsedS / limitS).toFixed(2)} | ${results.filter((r) => r.state === 'sent').length} | ${results.filter((r) => r.state === 'failed').length} | ${onMute} | ${rig.ledger.duplicates().length} | ${new Set(rig.health.filter((e) => e.event === 'quarantine').map((e) => e.line)).size} |`,
    ].join('\n');
  } finally {
    await rig.stop();
  }
}

if (require.main === module) {
  runMuteLines().then(
    (table) => console.log(table),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
