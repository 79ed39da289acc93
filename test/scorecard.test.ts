/**
 * The Flow Library scorecard: `node-red-dev validate` on the package exactly as `npm pack` would
 * publish it, and every check must pass.
 *
 * The validator asks the npm registry (Node-RED versions, the dependency tree, latest versions)
 * and the Flow Library catalogue (https://catalogue.nodered.org/catalogue.json, for similar package
 * names and duplicate node types). The catalogue is not reachable offline, so that one request, and
 * only that one, is answered by a stub: a `--require` preload in the validator's process that
 * adds an axios request interceptor (node-red-dev fetches with its own axios) answering that URL
 * with a small catalogue. The registry requests go out as they are.
 *
 * A second run with a catalogue claiming our five node types must fail check N01 for each of them:
 * proof that the stub is what the validator reads and that its parser sees all five nodes (it reads
 * only <script type="text/javascript"> blocks and silently drops a node it cannot parse).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ROOT = path.resolve(__dirname, '..', '..');
const CATALOGUE_URL = 'https://catalogue.nodered.org/catalogue.json';
const NODE_TYPES = ['goip-config', 'goip-in', 'goip-send', 'goip-command', 'goip-queue', 'goip-inbox'];
const FLOW_NODE_TYPES = ['goip-in', 'goip-send', 'goip-command', 'goip-queue', 'goip-inbox'];
/** The checks node-red-dev 0.1.x runs (P02 is disabled in the tool). */
const CHECKS = ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'P08', 'N01', 'N02', 'D01', 'D02', 'D03'];
const STUB_MARK = 'catalogue stub answered';

interface CatalogueModule {
  id: string;
  version: string;
  description: string;
  updated_at: string;
  types: string[];
  keywords: string[];
}

type Scorecard = Record<string, { test?: boolean; [detail: string]: unknown }>;

interface Validation {
  scorecard: Scorecard;
  output: string;
  stubHits: number;
}

function catalogueModule(id: string, types: string[]): CatalogueModule {
  return { id, version: '1.0.0', description: 'stub', updated_at: '2024-01-01T00:00:00.000Z', types, keywords: ['node-red'] };
}

/**
 * The preload: answers GET CATALOGUE_URL from the JSON file named in GOIP_STUB_CATALOGUE, on the
 * axios instance named in GOIP_STUB_AXIOS (the copy node-red-dev loads); every other request is
 * left alone. It logs each answer so the test can tell the stub was used.
 */
const PRELOAD = `'use strict';
const fs = require('fs');
const axios = require(process.env.GOIP_STUB_AXIOS);
const url = ${JSON.stringify(CATALOGUE_URL)};
axios.interceptors.request.use((config) => {
  if (config.url !== url || String(config.method || 'get').toLowerCase() !== 'get') return config;
  const data = JSON.parse(fs.readFileSync(process.env.GOIP_STUB_CATALOGUE, 'utf8'));
  process.stderr.write(${JSON.stringify(STUB_MARK)} + ' ' + url + '\\n');
  config.adapter = () => Promise.resolve({ data, status: 200, statusText: 'OK', headers: { 'content-type': 'application/json' }, config, request: {} });
  return config;
});
`;

describe('Flow Library scorecard (node-red-dev validate)', function () {
  this.timeout(180_000);

  let work: string;
  let packageDir: string;
  let preload: string;

  before(async () => {
    for (const type of NODE_TYPES) {
      assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'nodes', `${type}.html`)), `dist/nodes/${type}.html missing: run npm run build first`);
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'goip-scorecard-'));
    // The package as it would be published.
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const [{ filename }] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    await run('tar', ['-xzf', path.join(work, path.basename(filename)), '-C', work]);
    packageDir = path.join(work, 'package');
    preload = path.join(work, 'stub-catalogue.js');
    fs.writeFileSync(preload, PRELOAD);
  });

  after(() => {
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
  });

  async function validate(modules: CatalogueModule[], name: string): Promise<Validation> {
    const catalogue = path.join(work, `${name}-catalogue.json`);
    const result = path.join(work, `${name}-scorecard.json`);
    fs.writeFileSync(catalogue, JSON.stringify({ name: 'Node-RED Community catalogue', updated_at: new Date().toISOString(), modules }));
    const devDir = path.dirname(require.resolve('node-red-dev/package.json'));
    const axiosPath = require.resolve('axios', { paths: [path.join(devDir, 'src', 'libs')] });
    const bin = path.join(devDir, 'bin', 'run');
    let stdout = '';
    let stderr = '';
    try {
      ({ stdout, stderr } = await run(process.execPath, ['--require', preload, bin, 'validate', '--path', packageDir, '--output', result], {
        cwd: work,
        env: { ...process.env, GOIP_STUB_AXIOS: axiosPath, GOIP_STUB_CATALOGUE: catalogue, NO_COLOR: '1' },
        timeout: 150_000,
        maxBuffer: 16 * 1024 * 1024,
      }));
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      assert.fail(`node-red-dev validate failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    const output = `${stdout}${stderr}`;
    assert.ok(fs.existsSync(result), `node-red-dev validate wrote no scorecard:\n${output}`);
    const stubHits = stderr.split('\n').filter((line) => line.startsWith(STUB_MARK)).length;
    return { scorecard: JSON.parse(fs.readFileSync(result, 'utf8')) as Scorecard, output, stubHits };
  }

  it('passes every check', async () => {
    const { scorecard, output, stubHits } = await validate([catalogueModule('node-red-node-ping', ['ping'])], 'clean');
    assert.ok(stubHits > 0, `the catalogue request never reached the stub:\n${output}`);
    assert.deepEqual(scorecard.package, { name: 'node-red-contrib-goip-sms', version: require(path.join(ROOT, 'package.json')).version });
    const checks = Object.keys(scorecard).filter((key) => key !== 'package');
    assert.deepEqual(CHECKS.filter((check) => !checks.includes(check)), [], `checks missing from the scorecard:\n${output}`);
    const failed = checks.filter((check) => scorecard[check].test !== true).map((check) => `${check} ${JSON.stringify(scorecard[check])}`);
    assert.deepEqual(failed, [], `failed checks:\n${failed.join('\n')}\n\nvalidator output:\n${output}`);
    assert.deepEqual(scorecard.N02.nodes, FLOW_NODE_TYPES, 'an example uses each flow node');
  });

  it('reads the stubbed catalogue and sees all five node types', async () => {
    const claims = NODE_TYPES.map((type) => catalogueModule(`node-red-contrib-other-${type}`, [type]));
    const { scorecard, output, stubHits } = await validate(claims, 'clash');
    assert.ok(stubHits > 0, `the catalogue request never reached the stub:\n${output}`);
    assert.equal(scorecard.N01.test, false, `N01 must fail against a catalogue that has our node types:\n${output}`);
    assert.deepEqual([...(scorecard.N01.nodes as string[])].sort(), claims.map((m) => m.id).sort(), `N01 saw only some node types:\n${output}`);
  });
});
