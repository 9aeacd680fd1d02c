/**
 * The change record shared by `diffSpecs` and its helpers, and the list that collects them.
 */

/** How far a change reaches; anything but `safe` needs an explicit approval. */
export type ChangeImpact = 'safe' | 'checkpoint' | 'table' | 'routing';

/** One semantic change. `before`/`after` are `null` when the setting is absent on that side. */
export interface SpecChange {
  /** Dotted spec path, e.g. `streams`, `tables.orders.mergeKeys`, `routing.routes.refund`. */
  path: string;
  before: unknown;
  after: unknown;
  impact: ChangeImpact;
  message: string;
}

/** Every impact class, from harmless to most far-reaching (used for summaries). */
export const IMPACTS: readonly ChangeImpact[] = ['safe', 'checkpoint', 'table', 'routing'];

/** Collects changes; `before`/`after` are normalised to `null` when absent. */
export class ChangeList {
  readonly changes: SpecChange[] = [];
  add(path: string, before: unknown, after: unknown, impact: ChangeImpact, message: string): void {
    this.changes.push({ path, before: before ?? null, after: after ?? null, impact, message });
  }
}

/** True when no change needs approval (an empty list is safe). */
export function allSafe(changes: SpecChange[]): boolean {
  return changes.every((c) => c.impact === 'safe');
}

