/**
 * Exact JSON: numbers that a double cannot hold (integers beyond ±2^53) must survive
 * decoding, classification and any re-serialisation digit for digit. `JSON.parse` is used
 * whenever the text cannot hold such a number (no run of 16 or more digits); otherwise the
 * text is parsed losslessly (lossless-json keeps every number as its text).
 */
import { isLosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { kindOfNumberText, kindOfValue } from './type-lattice.js';

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Whether `text` holds a run of 16 or more ASCII digits. Looks at every 16th character only:
 * such a run covers one of them, so only a digit seen there is measured out (`/\d{16}/`
 * visits every character, ~5x the cost on typical records).
 */
export function hasLongDigitRun(text: string): boolean {
  for (let i = 15; i < text.length; i += 16) {
    if (!isDigit(text.charCodeAt(i))) continue;
    let lo = i;
    let hi = i;
    while (lo > 0 && isDigit(text.charCodeAt(lo - 1))) lo--;
    while (hi + 1 < text.length && isDigit(text.charCodeAt(hi + 1))) hi++;
    if (hi - lo + 1 >= 16) return true;
    // Any later run of 16 starts after hi, so it covers one of hi+16, hi+32, …
    i = hi;
  }
  return false;
}

/** Parses JSON text exactly (see the module comment). Throws SyntaxError like JSON.parse. */
export function parseExactJson(text: string): { value: unknown; lossless: boolean } {
  if (!hasLongDigitRun(text)) return { value: JSON.parse(text), lossless: false };
  return { value: parseLossless(text), lossless: true };
}

/** Serialises a value produced by {@link parseExactJson} (lossless numbers as their digits). */
export function stringifyExactJson(value: unknown, lossless: boolean): string {
  return lossless ? stringifyLossless(value)! : JSON.stringify(value);
}

/**
 * The lattice kind of a decoded value, or undefined when it is an integer outside the
 * 64-bit range (which no inferred column type holds exactly).
 */
export function kindOfJsonValue(value: unknown): number | undefined {
  if (value !== null && typeof value === 'object' && isLosslessNumber(value)) {
    return kindOfNumberText((value as { value: string }).value);
  }
  return kindOfValue(value);
}

/** Whether `value` is a number (plain or lossless). */
export function isJsonNumber(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'bigint' || (value !== null && typeof value === 'object' && isLosslessNumber(value));
}

/**
 * The first name the top-level object of JSON text `text` holds more than once, if any.
 * `JSON.parse` keeps the last value of such a name and DuckDB's reader refuses the object, so
 * a record holding one cannot say which value it means. A scan of the whole text: used only
 * where that is rare (records rewritten for their table, a batch DuckDB refused).
 */
export function duplicateTopLevelName(text: string): string | undefined {
  const names = new Set<string>();
  let depth = 0;
  // At depth 1 a string is a name when the last structural character was `{` or `,`.
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const from = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
      if (depth === 1 && expectName) {
        const name = JSON.parse(text.slice(from, i + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
        expectName = false;
      }
    } else if (c === 123 || c === 91) {
      depth++;
      expectName = depth === 1 && c === 123;
    } else if (c === 125 || c === 93) depth--;
    else if (c === 44 && depth === 1) expectName = true;
  }
  return undefined;
}

/** Why a record holding top-level name `name` twice fails. */
export function duplicateNameReason(name: string): string {
  return `field '${name}' appears more than once in the record, so which value it means is unknown`;
}
