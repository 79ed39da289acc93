/**
 * A strict reader of the Prometheus text exposition format (0.0.4), as promtool checks it: HELP and
 * TYPE before a family's samples, one TYPE per family, well-formed names, labels and values,
 * counters named *_total, histogram buckets cumulative up to +Inf equal to _count. Throws on the
 * first fault with its line number.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, readonly string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''], counter: [''], gauge: [''], untyped: [''] };

function parseValue(text: string, at: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || !Number.isFinite(value)) throw new Error(`${at}: bad value "${text}"`);
  return value;
}

function parseLabels(text: string | undefined, at: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return labels;
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (match === null) throw new Error(`${at}: bad labels "${text}"`);
    if (match[1] in labels) throw new Error(`${at}: label ${match[1]} twice`);
    labels[match[1]] = match[2].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    if (match[3] === '') break;
  }
  return labels;
}

export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  text.split('\n').forEach((line, index) => {
    const at = `line ${index + 1}`;
    if (line.trim() === '') return;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest = ''] = meta;
      if (!NAME.test(name)) throw new Error(`${at}: bad metric name ${name}`);
      const family = families.get(name) ?? { name, type: '', help: '', samples: [] };
      if (family.samples.length > 0) throw new Error(`${at}: ${kind} of ${name} after its samples`);
      if (kind === 'TYPE') {
        if (family.type !== '') throw new Error(`${at}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${at}: unknown type ${rest}`);
        family.type = rest;
      } else family.help = rest;
      families.set(name, family);
      return;
    }
    if (line.startsWith('#')) return;
    const sample = SAMPLE.exec(line);
    if (sample === null) throw new Error(`${at}: not a sample: ${line}`);
    const [, name, labelText, valueText] = sample;
    const family = [...families.values()].find((f) => (SUFFIXES[f.type] ?? ['']).some((suffix) => `${f.name}${suffix}` === name));
    if (family === undefined || family.type === '') throw new Error(`${at}: sample ${name} without a TYPE`);
    family.samples.push({ name, labels: parseLabels(labelText, at), value: parseValue(valueText, at) });
  });
  for (const family of families.values()) check(family);
  return families;
}

function check(family: Family): void {
  if (family.type === 'counter') {
    if (!family.name.endsWith('_total')) throw new Error(`counter ${family.name} is not named *_total`);
    for (const s of family.samples) if (!(s.value >= 0)) throw new Error(`counter ${family.name} has ${s.value}`);
  }
  if (family.type !== 'histogram') return;
  const series = new Map<string, Sample[]>();
  for (const s of family.samples.filter((x) => x.name.endsWith('_bucket'))) {
    const { le, ...rest } = s.labels;
    if (le === undefined) throw new Error(`${family.name}: bucket without le`);
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const [key, buckets] of series) {
    const les = buckets.map((b) => parseValue(b.labels.le, family.name));
    for (let i = 1; i < buckets.length; i++) {
      if (!(les[i] > les[i - 1])) throw new Error(`${family.name}${key}: le not ascending`);
      if (buckets[i].value < buckets[i - 1].value) throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    if (les[les.length - 1] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`);
    const count = family.samples.find((s) => s.name === `${family.name}_count` && JSON.stringify(s.labels) === key);
    if (count?.value !== buckets[buckets.length - 1].value) throw new Error(`${family.name}${key}: +Inf bucket differs from _count`);
  }
}

/** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    const sample = family.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    if (sample !== undefined) return sample.value;
  }
  return undefined;
}
