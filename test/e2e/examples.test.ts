/**
 * Every example flow in a real Node-RED (a child process with this checkout in `nodesDir`, not the
 * test helper), on each runtime: see helpers/examples.ts for how an example is set up and checked.
 */
import assert from 'node:assert/strict';
import { behaviour, EXAMPLES_ENV, exampleNames, listedExamples, liveNodeRed, runExample } from '../helpers/examples';
import { NodeRedProcess } from '../helpers/node-red-process';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';

const verbose = process.env.GOIP_TEST_VERBOSE === '1';

for (const runtime of RUNTIMES) describe(`examples: every example flow in a real Node-RED (${runtime.name})`, function () {
  this.timeout(60_000);

  const live = liveNodeRed((context) => {
    skipUnavailable(context, runtime);
    return NodeRedProcess.start({ runtime, env: EXAMPLES_ENV });
  });

  it('lists every example in the editor library', async function () {
    assert.ok(live.red);
    assert.deepEqual(await listedExamples(live.red), exampleNames);
  });

  for (const name of exampleNames) {
    const what = behaviour[name]?.what ?? 'lines register';
    it(`${name}: deploys from the library; ${what}; no node in error`, async function () {
      assert.ok(live.red && live.comms);
      const t0 = Date.now();
      const warnings = await runExample(live.red, live.comms, name);
      if (verbose) console.log(`      ${name}: ${Date.now() - t0} ms${warnings.length === 0 ? '' : `, warnings: ${warnings.join(' | ')}`}`);
    });
  }
});
