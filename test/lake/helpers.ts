/** The lake tests' helpers live in test/support; this module keeps their older import path working. */
export { spawnNode, type NodeChild } from '../support/cli.js';
export { readLogEntry } from '../support/files.js';
export { sortBy } from '../support/tables.js';
export { tempDir } from '../support/temp-dirs.js';
