/**
 * The end-to-end helpers live in test/support; this module keeps their older import path
 * working.
 */
export { ROOT } from '../support/build.js';
export { E2E_ON_KAFKA, startE2eBroker, type E2eBroker } from '../support/broker.js';
export { E2E_TIMEOUT, runAvailableNow, runCli, startCli, type CliResult } from '../support/cli.js';
export { COMMERCE_TYPES, produce, writeCommerceSpec, type SpecOptions } from '../support/commerce.js';
export { readOffsetRanges } from '../support/files.js';
export { normalizeReference, readGold, readTable } from '../support/tables.js';
