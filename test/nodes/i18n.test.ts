import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { events } from '@node-red/util';
import { type Catalog, flatten, LOCALES_DIR, NODE_TYPES, type NodeType, readCatalog } from '../helpers/catalog';
import { configStatus, DEVICES, flow, helper, listeningPort, type Msg, nextInput, nodesIn } from '../helpers/red';

const SRC_NODES = path.resolve(__dirname, '..', '..', '..', 'src', 'nodes');
const LANGS = fs.readdirSync(LOCALES_DIR).sort();
/** The catalog sections the runtime uses; the others (label, tip, ...) are the editor's. */
const RUNTIME = '(?:status|errors|warnings|log)\\.[A-Za-z0-9_.]+';
/** The node types that find their goip-config through findConfig, whose texts are keyed on the node's type. */
const FLOW_NODE_TYPES: readonly NodeType[] = ['goip-in', 'goip-send', 'goip-command', 'goip-queue', 'goip-inbox'];

const sources = fs
  .readdirSync(SRC_NODES)
  .filter((file) => file.endsWith('.ts'))
  .map((file) => fs.readFileSync(path.join(SRC_NODES, file), 'utf8'));

/** Every runtime key src/nodes names: 'goip-send.status.idle' literally, `${def.type}.status.noServer` per flow node type. */
function usedKeys(): Set<string> {
  const keys = new Set<string>();
  for (const source of sources) {
    for (const [, key] of source.matchAll(new RegExp(`['\`]((?:${NODE_TYPES.join('|')})\\.${RUNTIME})['\`]`, 'g'))) keys.add(key);
    for (const [, rest] of source.matchAll(new RegExp(`\`\\$\\{[^}]+\\}\\.(${RUNTIME})\``, 'g'))) {
      for (const type of FLOW_NODE_TYPES) keys.add(`${type}.${rest}`);
    }
  }
  return keys;
}

const texts = (lang: string, type: NodeType): Map<string, string> => flatten(readCatalog(lang, type));
const placeholders = (text: string): string[] => [...text.matchAll(/__(\w+)__/g)].map(([, name]) => name).sort();
const isRuntimeKey = (key: string): boolean => new RegExp(`^[^.]+\\.${RUNTIME}$`).test(key);

describe('runtime texts (i18n)', () => {
  it('ships en-US and zh-CN catalogs for every node', () => {
    assert.deepEqual(LANGS, ['en-US', 'zh-CN']);
    for (const lang of LANGS) for (const type of NODE_TYPES) assert.ok(texts(lang, type).size > 0, `${lang}/${type}.json`);
  });

  it('has the same keys in zh-CN as in en-US, with the same substitutions', () => {
    for (const type of NODE_TYPES) {
      const english = texts('en-US', type);
      const chinese = texts('zh-CN', type);
      assert.deepEqual([...chinese.keys()].sort(), [...english.keys()].sort(), `${type}: keys of zh-CN against en-US`);
      for (const [key, text] of english) assert.deepEqual(placeholders(chinese.get(key) ?? ''), placeholders(text), `${key}: substitutions`);
    }
  });

  it('has every runtime key src/nodes uses in both catalogs, and no runtime text nothing uses', () => {
    const used = usedKeys();
    assert.ok(used.has('goip-send.status.idle') && used.has('goip-in.errors.noServer'), 'the scan finds keys');
    for (const lang of LANGS) {
      const runtime = new Set(NODE_TYPES.flatMap((type) => [...texts(lang, type).keys()].filter(isRuntimeKey)));
      assert.deepEqual([...used].filter((key) => !runtime.has(key)), [], `${lang}: keys used in src/nodes but missing`);
      assert.deepEqual([...runtime].filter((key) => !used.has(key)), [], `${lang}: runtime texts nothing uses`);
    }
  });

  it('translates every runtime text and keeps statuses short', () => {
    for (const type of NODE_TYPES) {
      const chinese = texts('zh-CN', type);
      for (const [key, text] of texts('en-US', type)) {
        if (!isRuntimeKey(key)) continue;
        assert.notEqual(chinese.get(key), text, `${key} is translated`);
        if (!key.startsWith(`${type}.status.`)) continue;
        for (const shown of [text, chinese.get(key) ?? '']) assert.ok(shown.replace(/__\w+__/g, '').length <= 24, `${key}: "${shown}" is short`);
      }
    }
  });

  it('uses only node-red:common keys that Node-RED has', () => {
    const core = flatten(require('@node-red/nodes/locales/en-US/messages.json') as Catalog);
    for (const source of sources) {
      for (const [, key] of source.matchAll(/['`]node-red:([\w.-]+)['`]/g)) assert.ok(core.has(key), `node-red:${key}`);
    }
  });
});

describe('runtime texts in a deployed flow', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  const expected = {
    'en-US': { listening: 'listening :', lines: ' · 0/2 lines', noServer: 'no GoIP server set', error: 'Error: goip-send has no goip-config (server) node' },
    'zh-CN': { listening: '监听 :', lines: ' · 0/2 线路在线', noServer: '未设置 GoIP 服务器', error: 'Error: goip-send 未选择 goip-config（服务器）节点' },
  };
  for (const [lang, text] of Object.entries(expected)) {
    it(`shows statuses and fails inputs in ${lang}`, async () => {
      const sendStatuses: Msg[] = [];
      const onStatus = ({ id, status }: { id: string; status: Msg }): void => {
        if (id === 'send') sendStatuses.push(status);
      };
      events.on('node-status', onStatus);
      try {
        await helper.load(nodesIn(lang), [...flow(), { id: 'send', type: 'goip-send', z: 'tab', server: 'none', wires: [[]] }], { cfg: { devices: DEVICES } });
      } finally {
        events.off('node-status', onStatus);
      }
      const status = await configStatus((s) => s.text?.startsWith(text.listening) ?? false);
      assert.deepEqual(status, { fill: 'yellow', shape: 'ring', text: `${text.listening}${listeningPort()}${text.lines}` });
      assert.deepEqual(sendStatuses, [{ fill: 'red', shape: 'ring', text: text.noServer }]);
      const caught = nextInput('caught');
      helper.getNode('send').receive({ payload: 'x', to: '13800138000' });
      assert.equal((await caught).error.message, text.error);
    });
  }
});
