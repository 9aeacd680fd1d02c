/**
 * YAML text → a plain JS tree with source positions. Parsing problems (syntax, tabs,
 * duplicate keys, alias bombs, deep nesting, several documents) become diagnostics; string
 * values are interpolated from the environment here, on parsed scalars.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  Scalar,
  type Document,
  type Node,
  type YAMLError,
} from 'yaml';
import { diagnostic, type Code } from './codes.js';
import { coerceScalar, hasInterpolation, interpolate, SECRET_VARIABLE } from './interpolate.js';
import { MAX_NESTING_DEPTH } from './source-text.js';
import type { Diagnostic, SourcePosition } from './types.js';

/** Most alias expansions (weighted by node count, as yaml counts them) a spec may use. */
export const MAX_ALIAS_COUNT = 100;

/** A path into the spec: map keys and sequence indexes. */
export type SpecPath = (string | number)[];

/** Dotted form of a path, as used in diagnostics and the positions map. */
export function dotted(path: SpecPath): string {
  return path.join('.');
}

/** A parsed document ready for overrides and conversion, or the reasons it is not. */
export interface ParsedDocument {
  doc?: Document;
  lineCounter: LineCounter;
  diagnostics: Diagnostic[];
}

/** The converted tree: values, where each key and value came from, what was interpolated. */
export interface SpecTree {
  value: unknown;
  /** Dotted path → position of the mapping key (or the sequence item). */
  keyPositions: Map<string, SourcePosition>;
  /** Dotted path → position of the value. */
  valuePositions: Map<string, SourcePosition>;
  /** Dotted path → written text, for values that used `${…}`. */
  interpolated: Map<string, string>;
  /** Dotted paths whose interpolation failed (their shape errors would only repeat it). */
  failedInterpolation: Set<string>;
  /** Paths of values that read a secret-looking variable (see SECRET_VARIABLE). */
  secrets: SpecPath[];
  diagnostics: Diagnostic[];
}

function yamlErrorCode(e: YAMLError): Code {
  if (e.code === 'TAB_AS_INDENT') return 'PIPE0005';
  if (e.code === 'DUPLICATE_KEY') return 'PIPE0006';
  return 'PIPE0004';
}

// yaml reports a duplicate key at its first character; the key text runs up to the colon.
function keyTextAt(text: string, offset: number): string {
  const rest = text.slice(offset).split('\n', 1)[0] ?? '';
  return rest.replace(/\s*:.*$/, '').replace(/^["']|["']$/g, '');
}

/**
 * Parses YAML text into one Document. Refuses several documents, a root that is not a
 * mapping, and alias expansion beyond MAX_ALIAS_COUNT (yaml's own resource guard).
 */
export function parseSpecDocument(text: string, file: string): ParsedDocument {
  const lineCounter = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const at = (offset: number) => ({ file, ...lineCounter.linePos(offset), path: '' });
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  for (const d of list) {
    for (const e of [...d.errors, ...d.warnings]) {
      const code = yamlErrorCode(e);
      const params: Record<string, string> = code === 'PIPE0006' ? { key: keyTextAt(text, e.pos[0]) } : { detail: e.message.split('\n')[0]! };
      diagnostics.push(diagnostic(code, at(e.pos[0]), params));
    }
  }
  if (diagnostics.length > 0) return { lineCounter, diagnostics };
  if (list.length > 1) {
    diagnostics.push(
      diagnostic('PIPE0009', at(list[1]!.range[0]), { detail: `the file holds ${list.length} YAML documents; a spec is exactly one` }, 'put each pipeline in its own file'),
    );
    return { lineCounter, diagnostics };
  }
  const doc = list[0];
  if (!doc || !isMap(doc.contents)) {
    const what = !doc || doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null) ? 'the file is empty' : 'the top level must be a mapping of fields';
    diagnostics.push(diagnostic('PIPE0009', at(doc?.contents?.range?.[0] ?? 0), { detail: what }, 'start from pipelines/commerce-events.yaml'));
    return { lineCounter, diagnostics };
  }
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    let first = 0;
    const findAlias = (n: unknown): boolean => {
      if (isAlias(n)) {
        first = n.range?.[0] ?? 0;
        return true;
      }
      if (isMap(n)) return n.items.some((p) => findAlias(p.key) || findAlias(p.value));
      if (isSeq(n)) return n.items.some(findAlias);
      return false;
    };
    findAlias(doc.contents);
    diagnostics.push(diagnostic('PIPE0007', at(first), { limit: MAX_ALIAS_COUNT }, 'write the values out instead of using anchors and aliases'));
    return { lineCounter, diagnostics };
  }
  return { doc, lineCounter, diagnostics };
}

/** Converts a parsed document to plain values, interpolating strings from `env`. */
export function toSpecTree(doc: Document, lineCounter: LineCounter, file: string, env: NodeJS.ProcessEnv): SpecTree {
  const tree: SpecTree = {
    value: undefined,
    keyPositions: new Map(),
    valuePositions: new Map(),
    interpolated: new Map(),
    secrets: [],
    failedInterpolation: new Set(),
    diagnostics: [],
  };
  const posOf = (node: Node | null | undefined, fallback: SourcePosition): SourcePosition =>
    node?.range ? lineCounter.linePos(node.range[0]) : fallback;
  const report = (code: Code, pos: SourcePosition, path: SpecPath, params: Record<string, string | number>, hint?: string) =>
    tree.diagnostics.push(diagnostic(code, { file, ...pos, path: dotted(path) }, params, hint));
  let tooDeepReported = false;

  const convert = (node: unknown, path: SpecPath, depth: number, fallback: SourcePosition): unknown => {
    const pos = posOf(node as Node, fallback);
    tree.valuePositions.set(dotted(path), pos);
    if (isAlias(node)) return convert(node.resolve(doc), path, depth, pos);
    if ((isMap(node) || isSeq(node)) && depth > MAX_NESTING_DEPTH) {
      if (!tooDeepReported) report('PIPE0008', pos, path, { limit: MAX_NESTING_DEPTH });
      tooDeepReported = true;
      return undefined;
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        // Keys created by `--set` are plain strings, not nodes.
        const keyNode = pair.key as Node | string | number | null;
        const keyPos = typeof keyNode === 'object' ? posOf(keyNode, pos) : pos;
        const keyValue = isScalar(keyNode) ? keyNode.value : keyNode;
        if (typeof keyValue !== 'string' && typeof keyValue !== 'number') {
          report('PIPE0004', keyPos, path, { detail: 'mapping keys must be plain strings' });
          continue;
        }
        const key = String(keyValue);
        const childPath = [...path, key];
        tree.keyPositions.set(dotted(childPath), keyPos);
        Object.defineProperty(out, key, {
          value: convert(pair.value, childPath, depth + 1, keyPos),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const childPath = [...path, i];
        tree.keyPositions.set(dotted(childPath), posOf(item as Node, pos));
        return convert(item, childPath, depth + 1, pos);
      });
    }
    if (isScalar(node)) return convertScalar(node, path, pos);
    return null;
  };

  const convertScalar = (node: Scalar, path: SpecPath, pos: SourcePosition): unknown => {
    if (typeof node.value !== 'string' || !hasInterpolation(node.value)) return node.value;
    const r = interpolate(node.value, env);
    const key = dotted(path);
    tree.interpolated.set(key, node.value);
    if (r.variables.some((v) => SECRET_VARIABLE.test(v))) tree.secrets.push(path);
    if (r.missing.length > 0 || r.malformed.length > 0) tree.failedInterpolation.add(key);
    for (const name of r.missing) {
      report('PIPE0010', pos, path, { name }, `export ${name}=… or write \${${name}:-default}`);
    }
    for (const text of r.malformed) report('PIPE0011', pos, path, { text });
    // A plain (unquoted) scalar becomes a number or boolean when its text says so, as if
    // the value had been written in place; quoted scalars always stay strings.
    return node.type === Scalar.PLAIN ? coerceScalar(r.value) : r.value;
  };

  tree.value = convert(doc.contents, [], 1, { line: 1, col: 1 });
  return tree;
}
