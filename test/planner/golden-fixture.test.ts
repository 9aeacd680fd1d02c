import { describe, it, expect } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { PLAN_FORMAT_EXTENSIONS, PLAN_FORMATS, renderPlan } from '../../src/planner/render.js';
import { commerceSpec, smallAvroSpec } from './fixtures.js';
import { expectGolden } from './golden.js';

describe('golden plans of a small second spec (avro, one stream, drop unmatched, SASL)', () => {
  for (const format of PLAN_FORMATS) {
    it(`renders ${format}`, () => {
      expectGolden(`billing.plan.${PLAN_FORMAT_EXTENSIONS[format]}`, renderPlan(compilePlan(smallAvroSpec(), { partitions: 3 }), format));
    });
  }

  it('does not depend on the machine: same render from any working directory', () => {
    for (const format of PLAN_FORMATS) {
      const a = renderPlan(compilePlan(commerceSpec(), { cwd: '/home/a' }), format);
      const b = renderPlan(compilePlan(commerceSpec(), { cwd: '/srv/b/c' }), format);
      expect(a).toBe(b);
      expect(a).not.toContain('/home/a');
    }
  });
});
