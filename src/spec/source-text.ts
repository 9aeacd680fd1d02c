/**
 * Input safety before any YAML parsing: size limit, strict UTF-8 decoding with the
 * position of the first bad byte, and a flow-nesting pre-scan (the YAML parser itself can
 * exhaust memory on a few hundred thousand nested `[`, so depth is refused up front).
 */
import { Lexer } from 'yaml';
import { diagnostic } from './codes.js';
import type { Diagnostic, SourcePosition } from './types.js';

/** Spec files above this many bytes are refused before parsing. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/** Deepest allowed nesting of mappings and sequences. */
export const MAX_NESTING_DEPTH = 64;

/** Either the decoded text or the diagnostic saying why there is none. */
export type DecodeResult = { text: string; diagnostic?: undefined } | { text?: undefined; diagnostic: Diagnostic };

/**
 * Offset of the first byte that starts an invalid UTF-8 sequence (WHATWG rules: no
 * overlongs, no surrogates, nothing above U+10FFFF), or -1 when all bytes are valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    } else return i;
    for (let j = 1; j <= need; j++) {
      const c = bytes[i + j];
      if (c === undefined || c < lower || c > upper) return i;
      lower = 0x80;
      upper = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}

/** 1-based line and column (in UTF-16 code units, like the YAML positions) of a string offset. */
export function positionOfOffset(text: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

/** Checks the size and decodes bytes as UTF-8, refusing (never replacing) bad bytes. */
export function decodeSpecBytes(bytes: Uint8Array, file: string): DecodeResult {
  if (bytes.byteLength > MAX_SPEC_BYTES) {
    return {
      diagnostic: diagnostic(
        'PIPE0002',
        { file, line: 1, col: 1, path: '' },
        { size: bytes.byteLength, limit: MAX_SPEC_BYTES },
        'a pipeline spec is a few kilobytes; is this the right file?',
      ),
    };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    const bad = Math.max(0, firstInvalidUtf8(bytes));
    // Everything before `bad` is valid, so it decodes exactly and yields the position.
    const prefix = new TextDecoder('utf-8').decode(bytes.subarray(0, bad));
    const pos = positionOfOffset(prefix, prefix.length);
    return {
      diagnostic: diagnostic(
        'PIPE0003',
        { file, ...pos, path: '' },
        { byte: bytes[bad]!.toString(16).padStart(2, '0'), offset: bad },
        'save the file as UTF-8',
      ),
    };
  }
}

/**
 * Finds the first flow collection (`[` or `{`) nested deeper than `limit`, using the YAML
 * lexer so brackets inside quoted strings and comments do not count. Block nesting is
 * bounded by the file size limit and checked on the parsed tree instead.
 */
export function findExcessiveFlowNesting(text: string, limit = MAX_NESTING_DEPTH): SourcePosition | undefined {
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    // The lexer interleaves one-character control tokens (document start, scalar start,
    // flow end) that are not part of the source text; they must not advance the offset.
    if (token.length === 1 && token.charCodeAt(0) < 0x20 && token !== '\n' && token !== '\r' && token !== '\t') continue;
    if (token === '[' || token === '{') {
      depth++;
      if (depth > limit) return positionOfOffset(text, offset);
    } else if (token === ']' || token === '}') {
      depth = Math.max(0, depth - 1);
    }
    offset += token.length;
  }
  return undefined;
}
