'use strict';
// Removes a build output folder so no file of a deleted source survives into the next build.
const fs = require('node:fs');
const path = require('node:path');

for (const dir of process.argv.slice(2)) {
  fs.rmSync(path.resolve(__dirname, '..', dir), { recursive: true, force: true });
}
