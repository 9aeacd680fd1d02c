import { describe, expect, it } from 'vitest';
import { CutPacer } from '../../src/runtime/cut-pacer.js';

describe('CutPacer', () => {
  it('cuts at once when nothing commits', () => {
    const pacer = new CutPacer();
    expect(pacer.holdMs(0)).toBe(0);
    pacer.started(0);
    pacer.finished(400, 50);
    expect(pacer.holdMs(1_000)).toBe(0);
  });

  it('holds the next cut until the running commit is about to end, less the decode time', () => {
    const pacer = new CutPacer();
    pacer.started(0);
    pacer.finished(1_000, 100); // estimates: commit 1,000 ms, decode 100 ms
    pacer.started(2_000);
    // Cut at about 2,000 + 1,000 - 1.2 * 100 - 20 = 2,860: the decode then ends as the commit does.
    expect(pacer.holdMs(2_000)).toBe(860);
    expect(pacer.holdMs(2_500)).toBe(360);
    expect(pacer.holdMs(2_900)).toBe(0);
  });

  it('follows the recent commit times', () => {
    const pacer = new CutPacer();
    for (let i = 0; i < 20; i++) {
      pacer.started(i * 1_000);
      pacer.finished(i * 1_000 + 200, 0);
    }
    pacer.started(100_000);
    expect(pacer.holdMs(100_000)).toBeCloseTo(180, 0);
  });
});
