import { describe, expect, it } from 'vitest';
import { Duck } from '../../src/lake/duck.js';

describe('duck instance', () => {
  it("starts with DuckDB's flush threshold, switches it between writes, and back to the default", async () => {
    const duck = await Duck.create({ threads: 1 });
    const current = async () => String((await duck.with((c) => c.rows(`SELECT current_setting('allocator_bulk_deallocation_flush_threshold') AS v`)))[0]!.v);
    try {
      expect(await current()).toBe('512.0 MiB');
      await duck.setAllocatorFlushBytes(16e6);
      expect(await current()).toBe('15.2 MiB');
      await duck.setAllocatorFlushBytes(16e6);
      expect(await current()).toBe('15.2 MiB');
      await duck.setAllocatorFlushBytes(undefined);
      expect(await current()).toBe('512.0 MiB');
    } finally {
      duck.close();
    }
  });
});
