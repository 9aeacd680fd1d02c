/**
 * The spec loader: file or text → validated, defaulted PipelineSpec plus every diagnostic.
 * Stages run in order (bytes, YAML, overrides, interpolation, schema, semantics); each
 * stage reports all of its problems, and a stage that leaves nothing usable stops the rest.
 * Never throws for bad input.
 */
import { readFileSync, statSync } from 'node:fs';
import { diagnostic } from './codes.js';
import { hasErrors, sortDiagnostics } from './diagnostics.js';
import { applyOverrides, parseOverrides } from './overrides.js';
import { registerSecretPaths } from './redact.js';
import { compiledSchema, validateShape, type PositionLookup } from './schema-validate.js';
import { checkSemantics } from './semantic-checks.js';
import { checkSizing } from './sizing-checks.js';
import { decodeSpecBytes, findExcessiveFlowNesting, MAX_NESTING_DEPTH, MAX_SPEC_BYTES } from './source-text.js';
import type { Diagnostic, PipelineSpec, SourcePosition } from './types.js';
import { dotted, parseSpecDocument, toSpecTree, type SpecPath, type SpecTree } from './yaml-tree.js';

/** Loader options. */
export interface LoadOptions {
  /** `path=value` overrides, as given to `--set`. */
  set?: string[];
  /** Variables for `${VAR}` interpolation. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Also give sizing and naming advice (warnings), with the topic's partition count when known. */
  advice?: { partitions?: number };
}

/** The outcome of loading one spec. */
export interface LoadedSpec {
  file: string;
  /** Undefined when any error diagnostic exists; defaults applied, brokers normalised to a list. */
  spec?: PipelineSpec;
  /** Errors and warnings, sorted by line/col. */
  diagnostics: Diagnostic[];
  /** Dotted path (`tables.orders.mergeKeys`) → position of the key (or sequence item). */
  positions: Map<string, SourcePosition>;
  /** Dotted path → position of the value (for checks that point inside a value). */
  valuePositions?: Map<string, SourcePosition>;
  /** The spec data as read, also when it is invalid (later checks report what they can of it). */
  data?: unknown;
}

function result(file: string, diagnostics: Diagnostic[], positions = new Map<string, SourcePosition>(), spec?: PipelineSpec): LoadedSpec {
  const sorted = sortDiagnostics(diagnostics);
  return hasErrors(sorted) || !spec ? { file, diagnostics: sorted, positions } : { file, spec, diagnostics: sorted, positions };
}

/** Reads and loads a spec file. A missing or unreadable file is a PIPE0001 diagnostic. */
export function loadSpecFile(file: string, opts: LoadOptions = {}): LoadedSpec {
  const site = { file, line: 1, col: 1, path: '' };
  let bytes: Uint8Array;
  try {
    const size = statSync(file).size;
    // Refuse before reading: a huge file should cost nothing.
    if (size > MAX_SPEC_BYTES) {
      return result(file, [diagnostic('PIPE0002', site, { size, limit: MAX_SPEC_BYTES }, 'a pipeline spec is a few kilobytes; is this the right file?')]);
    }
    bytes = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
    return result(file, [diagnostic('PIPE0001', site, { reason })]);
  }
  const decoded = decodeSpecBytes(bytes, file);
  if (decoded.diagnostic) return result(file, [decoded.diagnostic]);
  return loadSpecText(decoded.text, file, opts);
}

function positionLookup(tree: SpecTree): PositionLookup {
  const key = (path: SpecPath): SourcePosition => {
    for (let n = path.length; n > 0; n--) {
      const p = tree.keyPositions.get(dotted(path.slice(0, n)));
      if (p) return p;
    }
    return { line: 1, col: 1 };
  };
  return { key, value: (path) => tree.valuePositions.get(dotted(path)) ?? key(path) };
}

/**
 * `<output.path>/_checkpoints`; for tables on object storage a local folder named after the
 * bucket and prefix (`_checkpoints/<bucket>/<prefix>`), since checkpoints are kept on a file system.
 */
export function defaultCheckpointPath(outputPath: string): string {
  const objectStore = /^s3a?:\/\/(.+)$/i.exec(outputPath);
  if (objectStore) return `_checkpoints/${objectStore[1]!.replace(/\/+$/, '')}`;
  return `${outputPath.replace(/[\\/]+$/, '')}/_checkpoints`;
}

/** Fills the defaults the schema cannot express (they depend on other fields). */
function finalize(data: Record<string, unknown>): PipelineSpec {
  const spec = data as unknown as PipelineSpec;
  const kafka = spec.source.kafka;
  const brokers = kafka?.brokers as string[] | string | undefined;
  if (kafka && typeof brokers === 'string') {
    kafka.brokers = brokers.split(',').map((b) => b.trim()).filter((b) => b !== '');
  }
  for (const table of Object.values(spec.tables)) {
    table.mode ??= table.mergeKeys && table.mergeKeys.length > 0 ? 'upsert' : 'append';
  }
  spec.checkpoint ??= { path: defaultCheckpointPath(spec.output.path) };
  return spec;
}

/** Loads a spec from text; `file` is used in diagnostics only. */
export function loadSpecText(text: string, file: string, opts: LoadOptions = {}): LoadedSpec {
  const env = opts.env ?? process.env;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_SPEC_BYTES) {
    return result(file, [diagnostic('PIPE0002', { file, line: 1, col: 1, path: '' }, { size, limit: MAX_SPEC_BYTES })]);
  }
  const deep = findExcessiveFlowNesting(text);
  if (deep) return result(file, [diagnostic('PIPE0008', { file, ...deep, path: '' }, { limit: MAX_NESTING_DEPTH })]);

  const parsed = parseSpecDocument(text, file);
  if (!parsed.doc) return result(file, parsed.diagnostics);
  const { schema } = compiledSchema();
  const { overrides, diagnostics: argDiagnostics } = parseOverrides(opts.set ?? [], file);
  const diagnostics = [...argDiagnostics, ...applyOverrides(parsed.doc, overrides, schema, file)];

  const tree = toSpecTree(parsed.doc, parsed.lineCounter, file, env);
  diagnostics.push(...tree.diagnostics);
  const positions = new Map(tree.keyPositions);
  if (tree.diagnostics.some((d) => d.code === 'PIPE0008')) return result(file, diagnostics, positions);

  const at = positionLookup(tree);
  diagnostics.push(...validateShape(tree.value, file, at).filter((d) => !tree.failedInterpolation.has(d.path)));
  diagnostics.push(...checkSemantics(tree.value, { file, at, interpolated: tree.interpolated }));
  if (opts.advice) diagnostics.push(...checkSizing(tree.value, { file, at, partitions: opts.advice.partitions }));
  // Values from --set have no place in the file; say where they came from instead.
  for (const d of diagnostics) {
    const o = overrides.find((x) => d.path === x.path.join('.') || d.path.startsWith(`${x.path.join('.')}.`));
    if (o && !d.hint && d.code !== 'PIPE0013') d.hint = `the value comes from --set ${o.path.join('.')}=${o.raw}`;
  }
  if (hasErrors(diagnostics)) return { ...result(file, diagnostics, positions), valuePositions: tree.valuePositions, data: tree.value };
  const spec = finalize(tree.value as Record<string, unknown>);
  registerSecretPaths(spec, tree.secrets);
  return { ...result(file, diagnostics, positions, spec), valuePositions: tree.valuePositions, data: spec };
}
