/**
 * The send benchmark's 8- and 32-line rows alone (0% and 10% loss), for a before/after check of an
 * engine change without the whole bench: `node dist-test/bench/send-rows.js`.
 */
import { formatSend, radioMsFor, runSendCase, type SendRow } from './send';

async function main(): Promise<void> {
  const rows: SendRow[] = [];
  for (const lines of [8, 32]) {
    for (const loss of [0, 0.1]) rows.push(await runSendCase({ lines, loss, radioMs: radioMsFor(lines) }));
  }
  console.log(formatSend({ rows, ceiling: [], seeds: [] }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
