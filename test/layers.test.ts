/**
 * The README's layer table is true: every import in src/ goes to a folder of the same row or of a
 * row above it in the table (a lower layer), and no module imports itself through a cycle.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const SRC = path.join(ROOT, 'src');

/** Each row of the Development section's table: the src/ folders it names, lowest layer first. */
function layerRows(): string[][] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Development'));
  const rows: string[][] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `src/')) continue;
    const folders = [...(line.split('|')[1] ?? '').matchAll(/`(src\/[^`]+)`/g)].map((m) => m[1].replace(/\/$/, ''));
    rows.push(folders);
  }
  return rows;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The files a module imports from inside src/ (type imports too: they are part of what it knows). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const targets: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gms)) {
    const base = path.resolve(path.dirname(file), match[1]);
    const target = [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => fs.existsSync(candidate));
    assert.ok(target, `${path.relative(ROOT, file)} imports ${match[1]}, which does not resolve`);
    targets.push(target);
  }
  return targets;
}

describe('layers (the README table)', () => {
  const rows = layerRows();
  const files = sourceFiles(SRC);
  /** The layer of a file: the row of the deepest folder that holds it; the package entry sits on top. */
  const layerOf = (file: string): { row: number; folder: string } => {
    const relative = path.relative(ROOT, file).split(path.sep).join('/');
    let best = { row: rows.length, folder: '(entry)', depth: -1 };
    rows.forEach((folders, row) => {
      for (const folder of folders) {
        if (relative.startsWith(`${folder}/`) && folder.length > best.depth) best = { row, folder, depth: folder.length };
      }
    });
    return best;
  };

  it('names every folder of src/ in a row', () => {
    const unplaced = files.filter((file) => layerOf(file).folder === '(entry)' && path.dirname(file) !== SRC);
    assert.deepEqual(unplaced.map((file) => path.relative(ROOT, file)), []);
  });

  it('has no import from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      for (const target of importsOf(file)) {
        const to = layerOf(target);
        if (to.row > from.row) upward.push(`${path.relative(ROOT, file)} (${from.folder}) -> ${path.relative(ROOT, target)} (${to.folder})`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it('has no import cycle between modules', () => {
    const graph = new Map(files.map((file) => [file, importsOf(file)]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(SRC, f)).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
