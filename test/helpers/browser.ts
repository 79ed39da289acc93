/**
 * Headless Chromium (Debian's `chromium` package, driven by playwright-core) against the Node-RED
 * editor: launching it, collecting page errors, and the few editor actions the browser test needs.
 *
 * `npx playwright install` cannot download browsers here, so the system Chromium is used; the
 * project's `scripts/install-test-deps.sh` installs it. Where it is missing, launchChromium() says
 * why instead of throwing, so the test can skip with a visible notice.
 */
import fs from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { skipOrFail } from './skip';

/** Debian's chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless in a container: no sandbox (root), no GPU, and nothing that phones home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const LAUNCH_TIMEOUT_MS = 30_000;

// Editor globals, used only inside functions that run in the page (page.evaluate / waitForFunction).
declare const RED: any;
declare const document: any;

export type Launch = { browser: Browser; skipReason?: undefined } | { browser?: undefined; skipReason: string };

/** Launches headless Chromium, or gives the reason it cannot (not installed, fails to start). */
export async function launchChromium(): Promise<Launch> {
  if (!fs.existsSync(CHROMIUM_PATH)) return { skipReason: 'chromium not installed' };
  try {
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: LAUNCH_TIMEOUT_MS,
    });
    return { browser };
  } catch (err) {
    const first = String((err as Error).message ?? err).split('\n')[0];
    return { skipReason: `chromium at ${CHROMIUM_PATH} could not be launched (${first})` };
  }
}

/** In a suite's before(): headless Chromium, or the suite skipped with a notice saying why. */
export async function chromiumOrSkip(context: Mocha.Context, suite: string): Promise<Browser> {
  const launch = await launchChromium();
  if (launch.skipReason !== undefined) {
    skipOrFail(context, `${suite} skipped: ${launch.skipReason} (scripts/install-test-deps.sh installs it)`);
  }
  return launch.browser as Browser;
}

/**
 * Every page error, console error and failed request of a page, except those `ignored` accepts
 * (matched against the request or source URL and the message text).
 */
export class PageProblems {
  readonly problems: string[] = [];

  constructor(page: Page, ignored: (urlOrText: string) => boolean) {
    page.on('pageerror', (err) => this.problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const url = msg.location().url;
      if (ignored(url) || ignored(msg.text())) return;
      this.problems.push(`console error: ${msg.text()}${url ? ` (${url})` : ''}`);
    });
    page.on('requestfailed', (request) => {
      if (ignored(request.url())) return;
      this.problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText ?? '?'}`);
    });
  }

  /** "none", or the problems one per line, for assertion messages. */
  toString(): string {
    return this.problems.length === 0 ? 'none' : this.problems.join('\n');
  }
}

/** Opens the editor and waits until it has loaded the deployed flow (every node, not tab, in `nodeIds`). */
export async function openEditor(page: Page, url: string, nodeIds: readonly string[]): Promise<void> {
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(
    (ids: readonly string[]) =>
      typeof RED !== 'undefined' &&
      RED.nodes !== undefined &&
      typeof RED.nodes.node === 'function' &&
      ids.every((id) => RED.nodes.node(id)) &&
      document.querySelector('#red-ui-workspace-chart svg') !== null,
    nodeIds,
  );
}

/** The palette label of each node type (types missing from the palette are left out). */
export function paletteLabels(page: Page, types: readonly string[]): Promise<Record<string, string>> {
  return page.evaluate((wanted: readonly string[]) => {
    const labels: Record<string, string> = {};
    for (const type of wanted) {
      const el = document.querySelector(`.red-ui-palette-node[data-palette-type="${type}"] .red-ui-palette-label`);
      // The palette wraps long labels over lines: compare the words as shown.
      if (el) labels[type] = String(el.textContent).replace(/\s+/g, ' ').trim();
    }
    return labels;
  }, types);
}

/** The workspace element of a flow node (its group; Node-RED gives it the node id). */
export function workspaceNode(page: Page, id: string): ReturnType<Page['locator']> {
  return page.locator(`#red-ui-workspace-chart g.red-ui-flow-node-group[id="${id}"]`);
}

const EDIT_CANCEL = '#node-dialog-cancel';
const CONFIG_CANCEL = '#node-config-dialog-cancel';

/**
 * Opens the edit dialog of a node as a user does: a double-click on a flow node in the workspace;
 * a config node (not drawn in the workspace) through the editor's own editConfig. Resolves once the
 * dialog's form is shown.
 */
export async function openEditDialog(page: Page, id: string): Promise<void> {
  const isConfig = await page.evaluate((nodeId: string) => RED.nodes.node(nodeId)._def.category === 'config', id);
  if (isConfig) {
    await page.evaluate((nodeId: string) => {
      const node = RED.nodes.node(nodeId);
      RED.editor.editConfig('', node.type, node.id);
    }, id);
    await page.locator(CONFIG_CANCEL).waitFor({ state: 'visible' });
  } else {
    await workspaceNode(page, id).locator('rect.red-ui-flow-node').dblclick();
    await page.locator(EDIT_CANCEL).waitFor({ state: 'visible' });
  }
}

/** Clicks of Cancel before the dialog is gone: a tray still sliding open may ignore one (seen on Node-RED 5 under load). */
const CANCEL_TRIES = 5;

/** Cancels the open edit dialog and waits until it is gone. */
export async function cancelEditDialog(page: Page): Promise<void> {
  const config = page.locator(CONFIG_CANCEL);
  const button = (await config.isVisible()) ? config : page.locator(EDIT_CANCEL);
  for (let tries = 1; ; tries++) {
    if ((await button.count()) === 0) return;
    await button.click().catch(() => undefined); // detached between the count and the click: gone
    try {
      await button.waitFor({ state: 'detached', timeout: 3000 });
      return;
    } catch (err) {
      if (tries >= CANCEL_TRIES) throw err;
    }
  }
}

/**
 * The option values of a datalist, once it has at least `count` options. Read in the same check that
 * counts them: the line picker may refill the list (clear, then add) between two separate reads.
 */
export async function datalistValues(page: Page, datalistId: string, count: number): Promise<string[]> {
  const values = await page.waitForFunction(
    ([listId, n]: [string, number]) => {
      const options = Array.from(document.querySelectorAll(`datalist#${listId} option`)).map((o: any) => String(o.value));
      return options.length >= n ? options : false;
    },
    [datalistId, count] as [string, number],
  );
  return (await values.jsonValue()) as string[];
}

/** The status text shown under a flow node, once it equals `text`; fails with the last text seen. */
export async function waitForStatusText(page: Page, id: string, text: string, timeoutMs = 15_000): Promise<string> {
  const label = workspaceNode(page, id).locator('text.red-ui-flow-node-status-label');
  try {
    await page.waitForFunction(
      ([nodeId, want]: [string, string]) => {
        const el = document.querySelector(`g.red-ui-flow-node-group[id="${nodeId}"] text.red-ui-flow-node-status-label`);
        return el !== null && String(el.textContent).trim() === want;
      },
      [id, text] as [string, string],
      { timeout: timeoutMs },
    );
  } catch (err) {
    const seen = (await label.count()) > 0 ? await label.first().textContent() : null;
    throw new Error(`status of ${id} is ${JSON.stringify(seen)}, expected ${JSON.stringify(text)}: ${(err as Error).message.split('\n')[0]}`);
  }
  return String(await label.first().textContent()).trim();
}
