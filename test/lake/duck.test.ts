import { describe, expect, it } from 'vitest';
import { Duck } from '../../src/lake/duck.js';

describe('duck instance', () => {
  it('passes the allocator flush threshold to DuckDB, and leaves its default otherwise', async () => {
    const setting = async (duck: Duck) => {
      try {
        const [row] = await duck.with((c) => c.rows(`SELECT current_setting('allocator_bulk_deallocation_flush_threshold') AS v`));
        return String(row!.v);
      } finally {
        duck.close();
      }
    };
    expect(await setting(await Duck.create({ threads: 1, allocatorFlushThreshold: '16MB' }))).toMatch(/^1[56]\.\d+ MiB$/);
    expect(await setting(await Duck.create({ threads: 1 }))).toBe('512.0 MiB');
  });

  it('switches the flush threshold between writes, and back to the default', async () => {
    const duck = await Duck.create({ threads: 1 });
    const current = async () => String((await duck.with((c) => c.rows(`SELECT current_setting('allocator_bulk_deallocation_flush_threshold') AS v`)))[0]!.v);
    try {
      await duck.setAllocatorFlushThreshold('16MB');
      expect(await current()).toMatch(/^1[56]\.\d+ MiB$/);
      await duck.setAllocatorFlushThreshold('16MB');
      expect(await current()).toMatch(/^1[56]\.\d+ MiB$/);
      await duck.setAllocatorFlushThreshold(undefined);
      expect(await current()).toBe('512.0 MiB');
    } finally {
      duck.close();
    }
  });
});
