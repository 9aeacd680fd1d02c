#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci`).
// Times are read in UTC whatever the machine's zone (before any worker starts): an event time
// written without a zone (`Mar 1 2026 10:01:05`) must fall in the same window everywhere.
process.env.TZ = 'UTC';
import('../dist/src/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    console.error('pipeline: not built yet; run `npm run build` (or `npm ci`) first');
    process.exit(2);
  }
  throw err;
});
