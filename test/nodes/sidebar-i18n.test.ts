/** The GoIP sidebar plugin's catalogs: en-US and zh-CN alike, every key the plugin uses present and translated. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type Catalog, flatten } from '../helpers/catalog';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PLUGIN = fs.readFileSync(path.join(ROOT, 'plugins', 'goip-sidebar.html'), 'utf8');
const catalog = (lang: string): Map<string, string> => flatten(JSON.parse(fs.readFileSync(path.join(ROOT, 'plugins', 'locales', lang, 'goip-sidebar.json'), 'utf8')) as Catalog);
const placeholders = (text: string): string[] => [...text.matchAll(/__(\w+)__/g)].map(([, name]) => name).sort();

describe('GoIP sidebar texts (i18n)', () => {
  const english = catalog('en-US');
  const chinese = catalog('zh-CN');

  it('has the same keys and substitutions in zh-CN as in en-US, translated', () => {
    assert.deepEqual([...chinese.keys()].sort(), [...english.keys()].sort());
    for (const [key, text] of english) {
      assert.deepEqual(placeholders(chinese.get(key) ?? ''), placeholders(text), `${key}: substitutions`);
      if (key !== 'sidebar.label') assert.notEqual(chinese.get(key), text, `${key} is translated`);
    }
  });

  it('has every key the plugin uses, and no text it does not use', () => {
    const used = new Set([...PLUGIN.matchAll(/\bt\("(\w+)"/g)].map(([, key]) => `sidebar.${key}`));
    for (const [, key] of PLUGIN.matchAll(/\["([\w", ]+)"\]\.forEach/g)) for (const name of key.split(/",\s*"/)) used.add(`sidebar.${name}`);
    for (const [, a, b] of PLUGIN.matchAll(/t\(line\.online \? "(\w+)" : "(\w+)"\)/g)) used.add(`sidebar.${a}`).add(`sidebar.${b}`);
    assert.deepEqual([...used].filter((key) => !english.has(key)), [], 'used but missing');
    assert.deepEqual([...english.keys()].filter((key) => !used.has(key)), [], 'in the catalog but unused');
  });
});
