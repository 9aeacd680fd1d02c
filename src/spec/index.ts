/**
 * The spec front end's public API: load and validate specs, format diagnostics, parse
 * durations, redact secrets. Other layers import from here only.
 */
export { loadSpecFile, loadSpecText, type LoadedSpec, type LoadOptions } from './load.js';
export { parseDuration, isDuration } from './duration.js';
export { formatDiagnostics, sortDiagnostics, hasErrors, diagnosticFormats, type DiagnosticFormat } from './diagnostics.js';
export { redactSpec, REDACTED } from './redact.js';
export { codes, diagnostic, isRegisteredCode, type Code, type CodeInfo } from './codes.js';
export { buildPipelineSchema } from './schema-definition.js';
export { MAX_SPEC_BYTES, MAX_NESTING_DEPTH } from './source-text.js';
export { kafkaSource, sourceName } from './source-kind.js';
export * from './types.js';
