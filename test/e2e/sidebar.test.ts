/**
 * The GoIP sidebar (editor plugin) in headless Chromium on a real Node-RED per runtime, fed by two
 * simulated lines: the tab lists the registered lines with their signal, a keepalive with a new
 * signal value updates the row within 2 s without a reload, an SMS shows in the events by its
 * sender but not its text (texts are off by default), no password reaches the page, and the texts
 * are in Chinese for a zh-CN browser. Screenshots are test artifacts in .test-artifacts/sidebar/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { lineIds, type SimFleet, startLines } from '../../src/sim';
import { chromiumOrSkip, openEditor, PageProblems } from '../helpers/browser';
import { devicesCredential, goipConfigNode } from '../helpers/flows';
import { freeUdpPort, NodeRedProcess, PACKAGE_ROOT } from '../helpers/node-red-process';
import { RUNTIMES, skipUnavailable } from '../helpers/runtimes';

const PASSWORD = 'sidebar-secret';
const LINES = lineIds(2);
const ARTIFACTS = path.join(PACKAGE_ROOT, '.test-artifacts', 'sidebar');
/** The bound the issue sets on a keepalive reaching the sidebar row. */
const UPDATE_WITHIN_MS = 2000;
const ID = { tab: 'c1d2e3f4a5b60001', config: 'c1d2e3f4a5b60002', in: 'c1d2e3f4a5b60003' };
const ignoredRequest = (urlOrText: string): boolean => urlOrText.includes('catalogue.nodered.org');

declare const RED: any;
declare const document: any;

function sidebarFlow(udpPort: number): unknown[] {
  return [
    { id: ID.tab, type: 'tab', label: 'sidebar test' },
    goipConfigNode({ id: ID.config, name: 'office gateway', port: udpPort, store: '', credentials: { devices: devicesCredential(LINES, PASSWORD) } }),
    { id: ID.in, type: 'goip-in', z: ID.tab, name: '', server: ID.config, events: '', line: '', x: 170, y: 80, wires: [[]] },
  ];
}

/** Opens the editor and the GoIP tab; resolves once the tab shows a row for every line. */
async function openSidebar(page: Page, url: string): Promise<void> {
  await openEditor(page, url, [ID.config, ID.in]);
  await page.evaluate(() => RED.sidebar.show('goip'));
  await page.waitForFunction((n: number) => document.querySelectorAll('.goip-sidebar-line').length >= n, LINES.length);
}

function rowSignal(page: Page, line: string): Promise<string | null> {
  return page.locator(`.goip-sidebar-line[data-line="${line}"]`).getAttribute('data-signal');
}

for (const runtime of RUNTIMES) describe(`GoIP sidebar in a browser (headless chromium) (${runtime.name})`, function () {
  this.timeout(60_000);

  let browser: Browser | undefined;
  let red: NodeRedProcess | undefined;
  let fleet: SimFleet | undefined;
  let page: Page;
  let problems: PageProblems;
  const tag = runtime.name.startsWith('Node-RED 4') ? 'node-red-4' : 'node-red-5';

  before(async function () {
    skipUnavailable(this, runtime);
    browser = await chromiumOrSkip(this, 'sidebar test');
    red = await NodeRedProcess.start({ runtime });
    const udpPort = await freeUdpPort();
    await red.deploy(sidebarFlow(udpPort));
    // Keepalives only when the test sends them (the first at start): the signal changes when it says so.
    const sims = await startLines({ count: LINES.length, password: PASSWORD, server: { host: '127.0.0.1', port: udpPort }, keepaliveIntervalMs: 600_000, signal: 20, carrier: 'CMCC' });
    fleet = sims;
    // The flows may still be starting: a line that is not registered yet says hello again.
    const hello = setInterval(() => sims.lines.filter((line) => !line.registered).forEach((line) => line.sendKeepalive()), 200);
    await sims.waitRegistered(15_000).finally(() => clearInterval(hello));
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(15_000);
    problems = new PageProblems(page, ignoredRequest);
    await openSidebar(page, red.url);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page !== undefined) {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `${tag}-failure.png`) }).catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close();
    await fleet?.stop();
    await red?.cleanup();
  });

  it('lists the registered lines with their signal, carrier and state, without a page error', async () => {
    const rows = await page.locator('.goip-sidebar-line').evaluateAll((trs: any[]) =>
      trs.map((tr) => ({ line: tr.getAttribute('data-line'), online: tr.getAttribute('data-online'), signal: tr.getAttribute('data-signal'), cells: Array.from(tr.querySelectorAll('td')).map((td: any) => String(td.innerText).trim()) })),
    );
    assert.deepEqual(rows.map((r) => [r.line, r.online, r.signal]), LINES.map((line) => [line, 'true', '20']));
    assert.deepEqual(rows[0].cells.slice(2, 4), ['CMCC\nLOGIN', '0 / 0']);
    assert.equal(await page.locator('.goip-sidebar-title').first().textContent(), 'office gateway');
    assert.equal(await page.locator('.goip-sidebar-summary').first().textContent(), `${LINES.length}/${LINES.length} lines online`);
    assert.equal(problems.problems.length, 0, `page problems:\n${problems}`);
  });

  it('updates the row within 2 s of a keepalive with a new signal, without a reload', async () => {
    const sim = fleet?.line(LINES[0]) ?? assert.fail('no line');
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    sim.state.signal = 12;
    const sent = Date.now();
    sim.sendKeepalive();
    await page.waitForFunction((line: string) => document.querySelector(`.goip-sidebar-line[data-line="${line}"]`)?.getAttribute('data-signal') === '12', LINES[0], { timeout: UPDATE_WITHIN_MS });
    const tookMs = Date.now() - sent;
    assert.ok(tookMs < UPDATE_WITHIN_MS, `updated after ${tookMs} ms`);
    assert.equal(await rowSignal(page, LINES[1]), '20', 'the other line is unchanged');
    assert.deepEqual(navigations, [], 'no reload');
    if (process.env.GOIP_TEST_VERBOSE === '1') console.log(`      sidebar: keepalive to row in ${tookMs} ms`);
  });

  it('lists a received SMS by its sender, without its text, and never shows a password', async () => {
    const sim = fleet?.line(LINES[1]) ?? assert.fail('no line');
    await sim.receiveSms('+8613800138000', 'private words');
    await page.waitForFunction(() => document.querySelector('.goip-sidebar-events li[data-event="sms"]') !== null);
    const item = String(await page.locator('.goip-sidebar-events li[data-event="sms"]').first().textContent());
    assert.match(item, /\+8613800138000/);
    assert.doesNotMatch(item, /private words/);
    await page.waitForFunction((line: string) => document.querySelector(`.goip-sidebar-line[data-line="${line}"] .goip-sidebar-sms`)?.textContent === '1 / 0', LINES[1]);
    const html = await page.locator('.goip-sidebar').innerHTML();
    assert.equal(html.includes(PASSWORD), false, 'no password in the sidebar');
  });

  it('leaves screenshots of the sidebar', async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${tag}.png`);
    await page.screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 10_000, `${file} is a real screenshot`);
    const tab = path.join(ARTIFACTS, `${tag}-tab.png`);
    await page.locator('.goip-sidebar').screenshot({ path: tab });
    assert.ok(fs.statSync(tab).size > 2_000, `${tab} is a real screenshot`);
  });

  it('speaks Chinese in a zh-CN browser', async () => {
    const chinese = await (browser as Browser).newPage({ viewport: { width: 1400, height: 900 }, locale: 'zh-CN' });
    try {
      await openSidebar(chinese, (red as NodeRedProcess).url);
      assert.equal(await chinese.locator('.goip-sidebar-lines th').first().textContent(), '线路');
      assert.equal(await chinese.locator('.goip-sidebar-summary').first().textContent(), `${LINES.length}/${LINES.length} 条线路在线`);
      await chinese.screenshot({ path: path.join(ARTIFACTS, `${tag}-zh-CN.png`) });
    } finally {
      await chinese.close();
    }
  });
});
