/** `npm run bench`: runs every benchmark and prints its figures (recorded in bench/RESULTS.md). */
import os from 'node:os';
import { formatIngest, formatPhases, runEchoBaseline, runIngest } from './ingest';
import { formatParts, runParts } from './parts';
import { run as runRetention } from './retention';
import { run as runSend } from './send';

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  console.log(`node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}\n`);
  console.log(formatIngest(await runIngest(1000, seconds)));
  console.log('');
  console.log(formatPhases('Baseline: the same generator against a bare echo socket (the floor of this machine)', await runEchoBaseline(1000, seconds)));
  console.log('');
  console.log(await runSend());
  console.log('');
  console.log(formatParts(await runParts()));
  console.log(runRetention());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
