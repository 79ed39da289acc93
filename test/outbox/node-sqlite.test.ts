/**
 * The outbox tests a second time, on Node's built-in node:sqlite: mocha from node_modules runs the
 * compiled test/outbox/outbox.test.js, result-log.test.js and inbox-log.test.js under Node 22 with
 * GOIP_SQLITE_DRIVER=node:sqlite, and every test of the files must pass, none skipped. (better-sqlite3's addon is built for the Node that ran `npm ci`;
 * under Node 22 it does not load, so the file reaches the store only through the driver layer.)
 *
 * Node 22 comes from scripts/install-test-node.sh (.test-deps/node22); where it is missing the suite
 * is skipped with a notice line.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SQLITE_DRIVER_ENV } from '../../src/outbox/sqlite-driver';
import { skipOrFail } from '../helpers/skip';

const run = promisify(execFile);

const ROOT = path.resolve(__dirname, '..', '..', '..');
const NODE22 = path.join(ROOT, '.test-deps', 'node22', 'bin', 'node');
const SUITES = ['outbox.test.js', 'result-log.test.js', 'inbox-log.test.js'].map((file) => path.join(ROOT, 'dist-test', 'test', 'outbox', file));
const MOCHA = require.resolve('mocha/bin/mocha.js');

interface MochaStats {
  tests: number;
  passes: number;
  failures: number;
  pending: number;
}

/** `node`'s version where it has node:sqlite, else why not. */
function nodeWithSqlite(node: string): { version: string } | { skipReason: string } {
  if (!fs.existsSync(node)) return { skipReason: `no ${path.relative(ROOT, node)}` };
  try {
    const version = execFileSync(node, ['--no-warnings', '-p', "require('node:sqlite') && process.version"], { encoding: 'utf8' }).trim();
    return { version };
  } catch (err) {
    return { skipReason: `${path.relative(ROOT, node)} has no node:sqlite (${(err as Error).message.split('\n')[0]})` };
  }
}

interface MochaReport {
  stats: MochaStats;
  failures: Array<{ fullTitle: string; err: { message?: string } }>;
}

/** Runs the outbox test files under `node`: its stats, and what it printed and each failure said. */
async function runSuite(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ stats: MochaStats; output: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-node-sqlite-'));
  const report = path.join(dir, 'report.json');
  let output: string;
  try {
    const mochaArgs = ['--no-config', '--timeout', '20000', '--exit', '--reporter', 'json', '--reporter-option', `output=${report}`];
    try {
      const { stdout, stderr } = await run(node, [MOCHA, ...mochaArgs, ...args, ...SUITES], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
      output = `${stdout}${stderr}`;
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      output = `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`;
    }
    assert.ok(fs.existsSync(report), `mocha wrote no report:\n${output}`);
    const { stats, failures } = JSON.parse(fs.readFileSync(report, 'utf8')) as MochaReport;
    const failed = failures.map((failure) => `${failure.fullTitle}: ${failure.err.message ?? ''}`);
    return { stats, output: [output, ...failed].join('\n') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('outbox tests under Node 22 on node:sqlite', function () {
  this.timeout(120_000);
  let version: string;

  before(function () {
    const found = nodeWithSqlite(NODE22);
    if ('skipReason' in found) {
      skipOrFail(this, `node:sqlite run skipped: ${found.skipReason} (scripts/install-test-deps.sh installs Node 22)`);
    }
    version = found.version;
  });

  it('passes every test of test/outbox/outbox.test.ts, result-log.test.ts and inbox-log.test.ts', async () => {
    const withoutForcing = { ...process.env };
    delete withoutForcing[SQLITE_DRIVER_ENV];
    const { stats: listed } = await runSuite(process.execPath, ['--dry-run'], withoutForcing);
    assert.ok(listed.tests > 0, 'the outbox test files list tests');

    const { stats, output } = await runSuite(NODE22, [], { ...process.env, [SQLITE_DRIVER_ENV]: 'node:sqlite' });
    assert.deepEqual(
      { passes: stats.passes, failures: stats.failures, pending: stats.pending },
      { passes: listed.tests, failures: 0, pending: 0 },
      `outbox tests under Node ${version} on node:sqlite:\n${output}`,
    );
    console.log(`      all ${stats.passes} outbox tests pass under Node ${version} on node:sqlite`);
  });
});
