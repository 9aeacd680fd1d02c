/**
 * Environment interpolation: `${VAR}` and `${VAR:-default}` inside string values.
 * It runs on parsed scalar values, never on the raw text, so a variable holding YAML
 * (`"a\nb: c"`) stays one string and cannot add keys. `$${` writes a literal `${`.
 */

/** Variable names whose values are treated as secrets (redacted in every output). */
export const SECRET_VARIABLE = /PASS|SECRET|TOKEN|KEY/i;

/** The outcome of interpolating one string. */
export interface InterpolationResult {
  value: string;
  /** Names of the variables read (set or defaulted). */
  variables: string[];
  /** Variables that are unset and have no default. */
  missing: string[];
  /** Text of `${…}` expressions that are not well-formed. */
  malformed: string[];
}

const expression = /\$\$\{|\$\{([^}]*)\}|\$\{[^}]*$/g;
const reference = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/** True when the string contains anything interpolation would act on. */
export function hasInterpolation(s: string): boolean {
  return s.includes('${');
}

/**
 * Replaces `${VAR}` with the variable's value and `${VAR:-default}` with the value, or the
 * default when the variable is unset or empty (as in POSIX shells). Unset variables without
 * a default are reported in `missing` and replaced by an empty string.
 */
export function interpolate(input: string, env: NodeJS.ProcessEnv): InterpolationResult {
  const result: InterpolationResult = { value: '', variables: [], missing: [], malformed: [] };
  result.value = input.replace(expression, (whole: string, body: string | undefined) => {
    if (whole === '$${') return '${';
    const m = body === undefined ? null : reference.exec(body);
    if (!m) {
      result.malformed.push(whole);
      return whole;
    }
    const name = m[1]!;
    const fallback = m[2];
    result.variables.push(name);
    const value = env[name];
    if (value !== undefined && (value !== '' || fallback === undefined)) return value;
    if (fallback !== undefined) return fallback;
    result.missing.push(name);
    return '';
  });
  return result;
}

/**
 * Resolves an interpolated plain scalar the way YAML's core schema would (`8` → 8,
 * `true` → true, `null` → null) so `streams: ${STREAMS:-4}` is a number. Only these exact
 * forms convert; anything else stays a string.
 */
export function coerceScalar(s: string): string | number | boolean | null {
  if (/^[-+]?(0|[1-9][0-9]*)$/.test(s)) return Number(s);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return Number(s);
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  if (s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  return s;
}
