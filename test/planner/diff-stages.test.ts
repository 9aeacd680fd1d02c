import { describe, expect, it } from 'vitest';
import { diffSpecs } from '../../src/planner/diff.js';
import { commerceSpec, edit } from './fixtures.js';

const fused = commerceSpec();
const staged = edit(fused, (s) => {
  s.mode = 'staged';
  s.stages = { raw: { streams: 4 }, gold: { trigger: { interval: '15m' } } };
});

describe('diffSpecs: mode and stages', () => {
  it('classifies switching modes as checkpoint-breaking, both ways', () => {
    const on = diffSpecs(fused, staged);
    expect(on.map((c) => [c.path, c.impact])).toEqual([['mode', 'checkpoint'], ['stages.gold.trigger.interval', 'safe']]);
    expect(on[0]!.message).toMatch(/append tables receive their records a second time/);
    expect(diffSpecs(staged, fused).map((c) => [c.path, c.impact])).toEqual([['mode', 'checkpoint'], ['stages', 'safe']]);
  });

  it('classifies the raw job\'s streams as checkpoint-breaking and job triggers as safe', () => {
    const changed = edit(staged, (s) => {
      s.stages!.raw!.streams = 6;
      s.stages!.raw!.trigger = { maxRecordsPerBatch: 5000 };
      s.stages!.gold!.trigger = { interval: '900s' }; // same duration, spelled differently
      s.stages!.bronze = { trigger: { interval: '30s' } };
    });
    expect(diffSpecs(staged, changed).map((c) => [c.path, c.impact, c.before, c.after])).toEqual([
      ['stages.raw.streams', 'checkpoint', 4, 6],
      ['stages.raw.trigger.maxRecordsPerBatch', 'safe', null, 5000],
      ['stages.bronze.trigger.interval', 'safe', null, '30s'],
    ]);
    // Unset raw streams follow the top-level streams: no change when they agree, a change when they do not.
    const implicit = edit(staged, (s) => delete s.stages!.raw!.streams);
    expect(fused.streams).toBe(4);
    expect(diffSpecs(staged, implicit).filter((c) => c.path.includes('streams'))).toEqual([]);
    expect(diffSpecs(staged, edit(implicit, (s) => (s.streams = 2))).map((c) => [c.path, c.impact])).toEqual([['streams', 'checkpoint'], ['stages.raw.streams', 'checkpoint']]);
  });

  it('classifies partitioning the raw table by date as a table change', () => {
    const byDate = edit(staged, (s) => (s.stages!.raw!.partitionByDate = true));
    const changes = diffSpecs(staged, byDate);
    expect(changes.map((c) => [c.path, c.impact, c.before, c.after])).toEqual([['stages.raw.partitionByDate', 'table', false, true]]);
    expect(changes[0]!.message).toMatch(/PIPE_LAKE_LAYOUT_CHANGED/);
    // Explicitly false is the default: no change.
    expect(diffSpecs(staged, edit(staged, (s) => (s.stages!.raw!.partitionByDate = false)))).toEqual([]);
  });
});
