/**
 * The package as a user installs it: `npm pack` of a clean checkout (the tracked files only, built by
 * `prepack`), then, on each runtime, `npm install <tarball>` into a fresh Node-RED user directory with
 * the palette manager's flags, run by that runtime's Node.js. Where that Node.js has node:sqlite, with
 * `--omit=optional` as the README advises there: no native build, and the store runs on node:sqlite
 * (so the two runtimes cover both drivers). Node-RED then starts on that user
 * directory with no nodesDir: nothing of the checkout leaks into the run. Every node type must
 * load without error, the example library must list our examples, and two examples must receive an
 * SMS and send one against simulated lines.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exampleNames, listedExamples, liveNodeRed, PACKAGE, runExample } from '../helpers/examples';
import { NodeRedProcess, PACKAGE_ROOT } from '../helpers/node-red-process';
import { hasBuiltinSqlite, RUNTIMES, type Runtime, skipUnavailable } from '../helpers/runtimes';

const NODE_TYPES = ['goip-config', 'goip-in', 'goip-send', 'goip-command', 'goip-queue', 'goip-inbox'];
/** What the palette manager runs (@node-red/registry's installer). */
const PALETTE_INSTALL_FLAGS = ['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--save-prefix=~', '--omit=dev', '--engine-strict'];

interface Run {
  code: number | null;
  output: string;
}

/** Runs a command to its end, collecting its output (npm can take a minute: better-sqlite3 may build). */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** The npm CLI script, to run under any Node.js: the one running `npm test`, else the one on PATH. */
function npmCli(): string {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm !== undefined && fromNpm.endsWith('.js')) return fromNpm;
  const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  return path.join(path.dirname(fs.realpathSync(npm)), 'npm-cli.js');
}

/** The environment of a user's shell with `node` = the runtime's: no npm_* of the outer `npm test`. */
function userEnv(runtime: Runtime): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  env.PATH = `${path.dirname(runtime.node)}${path.delimiter}${process.env.PATH ?? ''}`;
  return env;
}

/** A copy of the checkout's tracked (and new, not ignored) files: what a clean clone has. */
function cleanCheckout(into: string): void {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: PACKAGE_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && fs.existsSync(path.join(PACKAGE_ROOT, file)));
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(into, file)), { recursive: true });
    fs.copyFileSync(path.join(PACKAGE_ROOT, file), path.join(into, file));
  }
  // The build's tools, as `npm ci` would install them.
  fs.symlinkSync(path.join(PACKAGE_ROOT, 'node_modules'), path.join(into, 'node_modules'), 'dir');
}

describe('install: the packed package in a fresh Node-RED user directory', function () {
  this.timeout(300_000);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-install-'));
  let tarball = '';
  let packed: string[] = [];

  before(async function () {
    const checkout = path.join(work, 'checkout');
    cleanCheckout(checkout);
    const pack = await run(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', work], { cwd: checkout });
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.output.slice(-4000)}`);
    const report = JSON.parse(pack.output.slice(pack.output.indexOf('[\n'))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(work, report[0].filename);
    packed = report[0].files.map((file) => file.path).sort();
  });

  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('packs the built nodes with their editor files, icons, locales and examples, and nothing users do not need', function () {
    for (const type of NODE_TYPES) {
      assert.ok(packed.includes(`dist/nodes/${type}.js`), `${type}.js`);
      assert.ok(packed.includes(`dist/nodes/${type}.html`), `${type}.html`);
    }
    for (const lang of ['en-US', 'zh-CN']) assert.ok(packed.includes(`dist/nodes/locales/${lang}/goip-config.json`), `${lang} catalog`);
    assert.ok(packed.some((file) => /^dist\/nodes\/icons\/.+\.svg$/.test(file)), 'icons');
    for (const name of exampleNames) assert.ok(packed.includes(`examples/${name}.json`), `example ${name}`);
    for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/sim/cli.js']) assert.ok(packed.includes(file), file);
    const unwanted = packed.filter((file) => /^(src|test|bench|scripts|\.ci|dist-test|docs)\/|\.map$|^tsconfig|^\.mocharc|\.tsbuildinfo$/.test(file));
    assert.deepEqual(unwanted, [], 'files users do not need');
  });

  for (const runtime of RUNTIMES) {
    describe(runtime.name, function () {
      const live = liveNodeRed(async (context) => {
        skipUnavailable(context, runtime);
        const userDir = path.join(work, `user-${RUNTIMES.indexOf(runtime)}`);
        fs.mkdirSync(userDir);
        // What Node-RED writes into a new user directory.
        fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true }));
        const flags = [...PALETTE_INSTALL_FLAGS, '--prefer-offline', ...(hasBuiltinSqlite(runtime) ? ['--omit=optional'] : [])];
        const install = await run(runtime.node, [npmCli(), ...flags, tarball], { cwd: userDir, env: userEnv(runtime) });
        assert.equal(install.code, 0, `npm install of the tarball failed:\n${install.output.slice(-4000)}`);
        return NodeRedProcess.start({ runtime, userDir, nodesDir: [] });
      });

      it('loads every node type from the installed package, without error', async function () {
        const red = live.red;
        assert.ok(red);
        const res = await red.request('GET', '/nodes', undefined, { Accept: 'application/json' });
        assert.equal(res.status, 200, res.body);
        const sets = (JSON.parse(res.body) as Array<{ module: string; types: string[]; enabled: boolean; err?: string }>).filter((set) => set.module === PACKAGE);
        assert.deepEqual(sets.flatMap((set) => set.types).sort(), [...NODE_TYPES].sort());
        assert.deepEqual(sets.filter((set) => !set.enabled || set.err !== undefined).map((set) => `${set.types}: ${set.err}`), [], 'node sets in error');
        const info = await red.request('GET', `/nodes/${PACKAGE}`, undefined, { Accept: 'application/json' });
        assert.equal(JSON.parse(info.body).version, JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version);
        assert.ok(fs.existsSync(path.join(red.userDir, 'node_modules', PACKAGE, 'dist', 'nodes', 'goip-config.js')), 'installed in the user directory');
        assert.deepEqual(await listedExamples(red), exampleNames);
      });

      it('receives an SMS (simulated-receive) and sends one (send-sms-and-get-number), logging its SQLite driver', async function () {
        const { red, comms } = live;
        assert.ok(red && comms);
        await runExample(red, comms, 'simulated-receive');
        await runExample(red, comms, 'send-sms-and-get-number');
        const driver = /GoIP send queue in .+ \((better-sqlite3|node:sqlite)\)/.exec(red.output());
        assert.ok(driver, `the log names the store's driver:\n${red.output().slice(-3000)}`);
        assert.equal(driver[1], hasBuiltinSqlite(runtime) ? 'node:sqlite' : 'better-sqlite3');
      });
    });
  }
});
