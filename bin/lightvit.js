#!/usr/bin/env node
'use strict';
// The `lightvit` command. Runs the compiled kit in dist/ (built by `npm install` / `npm run build`).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'cli', 'index.js');
if (!fs.existsSync(entry)) {
  console.error(
    `lightvit: the kit is not built yet (dist/ is missing); run \`npm run build\` in ${path.join(__dirname, '..')}`,
  );
  process.exit(1);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((e) => {
    console.error(e?.stack ? e.stack : String(e));
    process.exit(1);
  });
