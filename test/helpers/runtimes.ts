/**
 * The Node-RED runtimes the real-runtime suites (examples, crash, browser, install) run on: Node-RED
 * 4.1 on the Node.js running the tests (20 here), and Node-RED 5 (the `node-red-5` dev dependency) on
 * Node 24 from scripts/install-test-node.sh (.test-deps/node24). A runtime that is not installed has a
 * skipReason; its suites skip with a notice instead of failing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { skipOrFail } from './skip';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export interface Runtime {
  /** For suite titles: `Node-RED 4.1.8 on Node 20.20.2`. */
  name: string;
  /** The node binary Node-RED runs under. */
  node: string;
  /** Node-RED's red.js. */
  redJs: string;
  /** The version of `node`, e.g. `24.22.3`; null when it does not run. */
  nodeVersion: string | null;
  /** Why this runtime cannot run here, or undefined. */
  skipReason?: string;
}

function nodeRedVersion(redJs: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(redJs), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function nodeVersion(node: string): string | null {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  } catch {
    return null;
  }
}

function nodeRed4(): Runtime {
  const redJs = require.resolve('node-red/red.js');
  return { name: `Node-RED ${nodeRedVersion(redJs)} on Node ${process.versions.node}`, node: process.execPath, redJs, nodeVersion: process.versions.node };
}

function nodeRed5(): Runtime {
  const redJs = require.resolve('node-red-5/red.js');
  const node = path.join(ROOT, '.test-deps', 'node24', 'bin', 'node');
  const version = nodeVersion(node);
  const name = `Node-RED ${nodeRedVersion(redJs)} on Node ${version ?? '24'}`;
  if (version === null) return { name, node, redJs, nodeVersion: version, skipReason: `no Node 24 in ${path.relative(ROOT, node)} (scripts/install-test-deps.sh installs it)` };
  return { name, node, redJs, nodeVersion: version };
}

/** Whether the runtime's Node.js has the built-in node:sqlite without a flag (22.13+, 23.4+). */
export function hasBuiltinSqlite(runtime: Runtime): boolean {
  const [major = 0, minor = 0] = (runtime.nodeVersion ?? '0.0').split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);
}

export const RUNTIMES: readonly Runtime[] = [nodeRed4(), nodeRed5()];

/** In a suite's before(): skips the suite, with a notice, when its runtime is not installed. */
export function skipUnavailable(context: Mocha.Context, runtime: Runtime): void {
  if (runtime.skipReason === undefined) return;
  skipOrFail(context, `${runtime.name} skipped: ${runtime.skipReason}`);
}
