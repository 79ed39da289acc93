/**
 * The nodes' message catalogs as Node-RED's RED._ renders them. node-red-node-test-helper hands the
 * nodes an identity RED._ (tests would see raw keys): withCatalog gives a node module one backed by
 * nodes/locales/en-US/<type>.json instead, so the tests assert the English texts users see.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
export const LOCALES_DIR = path.join(ROOT, 'nodes', 'locales');
export const NODE_TYPES = ['goip-config', 'goip-in', 'goip-send', 'goip-command', 'goip-queue', 'goip-inbox'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export type Catalog = { [key: string]: string | Catalog };
export type Translate = (key: string, substitutions?: Readonly<Record<string, unknown>>) => string;

export function readCatalog(lang: string, type: NodeType): Catalog {
  return JSON.parse(fs.readFileSync(path.join(LOCALES_DIR, lang, `${type}.json`), 'utf8')) as Catalog;
}

/** Every text of `catalog` by its dotted key, e.g. `goip-send.status.idle`. */
export function flatten(catalog: Catalog, prefix = ''): Map<string, string> {
  const texts = new Map<string, string>();
  for (const [name, value] of Object.entries(catalog)) {
    const key = `${prefix}${name}`;
    if (typeof value === 'string') texts.set(key, value);
    else for (const [inner, text] of flatten(value, `${key}.`)) texts.set(inner, text);
  }
  return texts;
}

/** The `node-red` namespace: the core nodes' catalog, whose `common.*` keys any node may use. */
const coreCatalog = (): Catalog => require('@node-red/nodes/locales/en-US/messages.json') as Catalog;

/**
 * RED._ of a node of `type`: `a.b.c` from its own catalog, `node-red:a.b` from the core nodes';
 * `__name__` takes substitutions.name. A missing key or substitution throws, so no test passes on a raw key.
 */
export function translator(type: NodeType, lang = 'en-US'): Translate {
  const own = flatten(readCatalog(lang, type));
  let core: Map<string, string> | null = null;
  return (key, substitutions = {}) => {
    const [namespace, name] = key.includes(':') ? key.split(':', 2) : [type, key];
    if (namespace === 'node-red') core ??= flatten(coreCatalog());
    const text = namespace === type ? own.get(name) : namespace === 'node-red' ? core?.get(name) : undefined;
    if (text === undefined) throw new Error(`no ${lang} text for "${key}" in the ${type} catalog`);
    return text.replace(/__(\w+)__/g, (_match, field: string) => {
      if (!(field in substitutions)) throw new Error(`"${key}" needs the substitution ${field}`);
      return String(substitutions[field]);
    });
  };
}

type NodeModule = (RED: object) => unknown;

/** `nodeModule` (the export of dist/nodes/<type>.js) registering against a RED whose _ uses the `lang` catalog. */
export function withCatalog(nodeModule: NodeModule, type: NodeType, lang = 'en-US'): NodeModule {
  const translate = translator(type, lang);
  return (RED) => nodeModule(Object.create(RED, { _: { value: translate } }));
}
