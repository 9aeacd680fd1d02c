/** One resource for a whole test file, opened before its first test and closed after its last. */
import { afterAll, beforeAll } from 'vitest';

/**
 * Opens a resource with `open` in `beforeAll` and closes it with `close` in `afterAll`; returns
 * an object standing for it once `beforeAll` has run (use it inside tests and hooks, not at the
 * top level of the file). Call at the top level of a file.
 */
export function perFile<T extends object>(what: string, open: () => Promise<T>, close: (resource: T) => unknown): T {
  let resource: T | undefined;
  beforeAll(async () => {
    resource = await open();
  });
  afterAll(async () => {
    if (resource) await close(resource);
  });
  return new Proxy({} as T, {
    get(_target, key) {
      if (!resource) throw new Error(`the ${what} is used before beforeAll opened it`);
      const value = Reflect.get(resource, key, resource) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(resource) : value;
    },
  });
}
