/**
 * One entry point for every plan render, so the CLI and tests pick a format by name.
 * Every format is deterministic: same plan, same bytes.
 */
import type { Plan } from '../runtime/plan.js';
import { renderDot, renderJson, renderMermaid } from './render-graph.js';
import { renderText } from './render-text.js';

/** Formats accepted by `pipeline plan --format`. */
export const PLAN_FORMATS = ['text', 'json', 'mermaid', 'dot'] as const;
/** A plan render format name. */
export type PlanFormat = (typeof PLAN_FORMATS)[number];

/** Conventional file extension per format (golden files: `<name>.plan.<ext>`). */
export const PLAN_FORMAT_EXTENSIONS: Record<PlanFormat, string> = { text: 'txt', json: 'json', mermaid: 'mmd', dot: 'dot' };

/** True when `format` names a supported render. */
export function isPlanFormat(format: string): format is PlanFormat {
  return (PLAN_FORMATS as readonly string[]).includes(format);
}

/** Renders `plan` in `format`; the result ends with a newline. */
export function renderPlan(plan: Plan, format: PlanFormat): string {
  switch (format) {
    case 'text':
      return renderText(plan);
    case 'json':
      return renderJson(plan);
    case 'mermaid':
      return renderMermaid(plan);
    case 'dot':
      return renderDot(plan);
  }
}
