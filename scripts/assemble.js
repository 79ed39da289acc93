'use strict';
// Lays out dist/ the way Node-RED's loader wants it: each dist/nodes/<type>.js with <type>.html
// beside it, dist/nodes/icons/ and dist/nodes/locales/<lang>/; dist/plugins/ likewise.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'nodes');

function copyDir(from, to) {
  if (!fs.existsSync(from)) return;
  fs.cpSync(from, to, { recursive: true });
}

fs.mkdirSync(out, { recursive: true });
for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', file), path.join(out, file));
}
copyDir(path.join(root, 'nodes', 'locales'), path.join(out, 'locales'));
copyDir(path.join(root, 'icons'), path.join(out, 'icons'));

// Editor plugins the same way: dist/plugins/<name>.js with <name>.html and locales/<lang>/ beside it.
const plugins = path.join(root, 'dist', 'plugins');
fs.mkdirSync(plugins, { recursive: true });
for (const file of fs.readdirSync(path.join(root, 'plugins'))) {
  if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'plugins', file), path.join(plugins, file));
}
copyDir(path.join(root, 'plugins', 'locales'), path.join(plugins, 'locales'));

const cli = path.join(root, 'dist', 'sim', 'cli.js');
if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
