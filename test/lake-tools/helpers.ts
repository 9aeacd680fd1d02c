/** The table-tooling tests' helpers live in test/support; this module keeps their older import path working. */
export { copyWritable, dataFilesOnDisk, readLogEntry } from '../support/files.js';
export { canonical, pathList, plainDuck } from '../support/tables.js';
export { tempDir } from '../support/temp-dirs.js';
