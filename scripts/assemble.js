'use strict';
// Lays out dist/ the way Node-RED's loader wants it: each dist/nodes/<type>.js with <type>.html
// beside it, dist/nodes/icons/ and dist/nodes/locales/<lang>/.
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

const cli = path.join(root, 'dist', 'sim', 'cli.js');
if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
