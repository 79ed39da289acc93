/** `npm run bench`: runs every benchmark and prints its figures (recorded in bench/RESULTS.md). */
import os from 'node:os';
import { runSoak, soakWanted } from './ingest-soak';
import { runIngestTargets } from './ingest-targets';
import { formatParts, runParts } from './parts';
import { formatPersonalised, runPersonalised } from './personalised';
import { runPostgres } from './postgres';
import { run as runRetention } from './retention';
import { run as runSend } from './send';

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}\n`);
  await runIngestTargets();
  console.log('');
  console.log(soakWanted() ? await runSoak() : 'Receive soak skipped (BENCH_SOAK=0)');
  console.log('');
  console.log(await runSend());
  console.log('');
  console.log(formatPersonalised(await runPersonalised()));
  console.log('');
  console.log(formatParts(await runParts()));
  console.log(runRetention());
  console.log('');
  console.log(await runPostgres());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
