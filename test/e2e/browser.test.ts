/**
 * The editor in a real browser: a real Node-RED child process with this package's nodes and a
 * deployed flow, two simulated GoIP lines registered with it, and headless Chromium on the editor.
 * The palette shows the three flow nodes, every edit dialog (the four node types) opens and
 * cancels without a page error, the live status under goip-in counts the registered lines, and
 * the line pickers list the lines.
 *
 * Needs Debian's chromium (scripts/install-test-deps.sh installs it); where it is missing the suite
 * is skipped with a notice line. A screenshot of the editor is left in
 * <tmpdir>/node-red-contrib-goip-sms-browser/ (editor.png, or failure.png when a test failed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { lineIds, type SimFleet, startLines } from '../../src/sim';
import {
  cancelEditDialog,
  datalistValues,
  chromiumOrSkip,
  openEditDialog,
  openEditor,
  PageProblems,
  paletteLabels,
  waitForStatusText,
} from '../helpers/browser';
import { devicesCredential, goipConfigNode } from '../helpers/flows';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';
import { freeUdpPort, NodeRedProcess } from '../helpers/node-red-process';

const PASSWORD = 'browser-secret';
const LINES = lineIds(2);
const SCREENSHOT_DIR = path.join(os.tmpdir(), 'node-red-contrib-goip-sms-browser');

const ID = {
  tab: 'b7e5a1c0d2f34a01',
  config: 'b7e5a1c0d2f34a02',
  in: 'b7e5a1c0d2f34a03',
  send: 'b7e5a1c0d2f34a04',
  command: 'b7e5a1c0d2f34a05',
  queue: 'b7e5a1c0d2f34a06',
};

/** The one request the editor makes to the internet (the palette catalogue); it fails offline. */
const ignoredRequest = (urlOrText: string): boolean => urlOrText.includes('catalogue.nodered.org');

function editorFlow(udpPort: number): unknown[] {
  return [
    { id: ID.tab, type: 'tab', label: 'browser test' },
    goipConfigNode({ id: ID.config, port: udpPort, store: '', credentials: { devices: devicesCredential(LINES, PASSWORD) } }),
    { id: ID.in, type: 'goip-in', z: ID.tab, name: '', server: ID.config, events: '', line: '', x: 170, y: 80, wires: [[]] },
    {
      id: ID.send,
      type: 'goip-send',
      z: ID.tab,
      name: '',
      server: ID.config,
      line: '',
      to: '',
      toType: 'str',
      text: '',
      textType: 'str',
      country: '',
      numberFormat: 'e164',
      x: 170,
      y: 180,
      wires: [[]],
    },
    { id: ID.command, type: 'goip-command', z: ID.tab, name: '', server: ID.config, line: '', command: '', x: 170, y: 280, wires: [[]] },
    { id: ID.queue, type: 'goip-queue', z: ID.tab, name: '', server: ID.config, action: 'cancel', country: '', x: 170, y: 380, wires: [[]] },
  ];
}

for (const runtime of RUNTIMES) describe(`editor in a browser (headless chromium) (${runtime.name})`, function () {
  this.timeout(60_000);

  let browser: Browser | undefined;
  let red: NodeRedProcess | undefined;
  let fleet: SimFleet | undefined;
  let page: Page;
  let problems: PageProblems;
  let udpPort = 0;

  before(async function () {
    skipUnavailable(this, runtime);
    browser = await chromiumOrSkip(this, 'browser test');

    red = await NodeRedProcess.start({ runtime });
    udpPort = await freeUdpPort();
    await red.deploy(editorFlow(udpPort));
    fleet = await startLines({
      count: LINES.length,
      password: PASSWORD,
      server: { host: '127.0.0.1', port: udpPort },
      keepaliveIntervalMs: 1000,
    });
    await fleet.waitRegistered(15_000);

    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(15_000);
    problems = new PageProblems(page, ignoredRequest);
    await openEditor(page, red.url, [ID.config, ID.in, ID.send, ID.command, ID.queue]);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && browser !== undefined && page !== undefined) {
      fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'failure.png') }).catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close();
    await fleet?.stop();
    await red?.cleanup();
  });

  it('loads the editor without a page error', () => {
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('shows goip in, goip send and goip command in the palette', async () => {
    await page.locator('.red-ui-palette-node[data-palette-type="goip-command"]').waitFor({ state: 'visible' });
    const labels = await paletteLabels(page, ['goip-in', 'goip-send', 'goip-command', 'goip-config']);
    assert.deepEqual(labels, { 'goip-in': 'goip in', 'goip-send': 'goip send', 'goip-command': 'goip command' });
  });

  it('shows the live status of the server under goip-in', async () => {
    const text = await waitForStatusText(page, ID.in, `listening :${udpPort} · ${LINES.length}/${LINES.length} lines`);
    assert.equal(text, `listening :${udpPort} · 2/2 lines`);
  });

  it('opens the goip-in dialog and its line picker lists the registered lines', async () => {
    await openEditDialog(page, ID.in);
    assert.deepEqual(await datalistValues(page, 'node-input-goip-in-lines', LINES.length), LINES);
    assert.equal(await page.locator('#node-input-goip-events input[type="checkbox"]').count(), 23, 'one checkbox per event');
    await cancelEditDialog(page);
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('opens the goip-send dialog without a page error', async () => {
    await openEditDialog(page, ID.send);
    assert.deepEqual(await datalistValues(page, 'node-input-goip-send-lines', LINES.length), LINES);
    await cancelEditDialog(page);
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('opens the goip-command dialog without a page error', async () => {
    await openEditDialog(page, ID.command);
    assert.deepEqual(await datalistValues(page, 'node-input-goip-command-lines', LINES.length), LINES);
    await cancelEditDialog(page);
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('opens the goip-queue dialog with its actions', async () => {
    await openEditDialog(page, ID.queue);
    const actions = await page.locator('#node-input-action option').evaluateAll((options: any[]) => options.map((o) => String(o.value)));
    assert.deepEqual(actions, ['', 'status', 'cancel', 'retry', 'block', 'unblock', 'blocked']);
    assert.equal(await page.locator('#node-input-action').inputValue(), 'cancel');
    await cancelEditDialog(page);
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('opens the goip-config dialog with the lines table', async () => {
    await openEditDialog(page, ID.config);
    const rows = page.locator('#node-config-goip-lines table.goip-config-lines tbody tr');
    await rows.nth(LINES.length - 1).waitFor({ state: 'attached' });
    const ids = await rows.evaluateAll((trs: any[]) => trs.map((tr) => String(tr.querySelector('td span:nth-child(2)')?.textContent)));
    assert.deepEqual(ids, LINES);
    for (const field of ['optOut', 'optIn', 'quietHours', 'retention']) {
      assert.equal(await page.locator(`#goip-config-tab-queue #node-config-input-${field}`).count(), 1, `Queue tab field ${field}`);
    }
    await cancelEditDialog(page);
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('shows the Fleet tab with an empty groups table and the Health tab with each line\'s health', async () => {
    await openEditDialog(page, ID.config);
    await page.locator('#node-config-goip-tabs a[href="#goip-config-tab-health"]').click();
    const rows = page.locator('#node-config-goip-health table.goip-config-lines tbody tr');
    await rows.nth(LINES.length - 1).waitFor({ state: 'attached' });
    const cells = await rows.evaluateAll((trs: any[]) => trs.map((tr) => [tr.children[0].textContent, tr.children[4].textContent]));
    assert.deepEqual(cells, LINES.map((line) => [line, 'ok']));
    await page.locator('#node-config-goip-tabs a[href="#goip-config-tab-fleet"]').click();
    assert.equal(await page.locator('#node-config-goip-groups li').count(), 0);
    assert.equal(await page.locator('#node-config-input-linePolicy').inputValue(), 'spread');
    await cancelEditDialog(page);
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('leaves a screenshot of the editor', async () => {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, 'editor.png');
    await page.screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 10_000, `${file} is a real screenshot`);
  });
});
