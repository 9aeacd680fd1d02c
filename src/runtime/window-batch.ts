/**
 * A stream's windows at each batch commit. The window stages note every record's share of its
 * windows while the batch is transformed; once the batch's tables are written, the shares of
 * the records they stored are added (a record a table refused counts in no window): `update`
 * partials go to the window table with the batch, `append` state is committed with the batch
 * and carried to the next one, without the windows the emitter has written meanwhile.
 */
import { applyWindowBatch, windowConfig, type WindowCell, type WindowConfig, type WindowInput, type WindowState } from '../operators/window.js';
import type { WatermarkState } from '../operators/watermark.js';
import type { RoutedBatch, TableWriter } from '../operators/api.js';
import { NODE_IDS, type Plan } from './plan.js';
import { dropWrittenWindows } from './window-emitter.js';

/** One batch's window results. */
export interface WindowBatch {
  /** `update` windows: the batch's partials to merge into each table, by node id. */
  cells: Record<string, WindowCell[]>;
  /** `append` windows: the state to commit with the batch, by node id. */
  state: Record<string, WindowState>;
}

/** Keeps a stream's append window state from commit to commit. */
export class StreamWindows {
  /** Each window's configuration, and its definition, carried in its committed state (checked against the spec at start, table-guards.ts). */
  private readonly configs: { id: string; cfg: WindowConfig; definition?: string }[];
  private state: Record<string, unknown>;

  /** `committed`: the operator state committed with the stream's newest batch. */
  constructor(private readonly plan: Plan, committed: Record<string, unknown>) {
    this.configs = (plan.windows ?? []).map((w) => ({ id: w.id, cfg: windowConfig(plan.nodes.find((n) => n.id === w.id)!.props), ...(w.definition ? { definition: w.definition } : {}) }));
    this.state = Object.fromEntries(this.configs.map(({ id }) => [id, committed[id]]));
  }

  /** Adds the batch's stored records to their windows (`excluded`: batch indices the tables refused). */
  async apply(lake: TableWriter, routed: RoutedBatch, excluded: ReadonlySet<number>): Promise<WindowBatch> {
    const watermarkMs = (routed.state[NODE_IDS.watermark] as WatermarkState | undefined)?.watermarkMs ?? null;
    const held = await dropWrittenWindows(this.plan, lake, this.state);
    const out: WindowBatch = { cells: {}, state: {} };
    for (const { id, cfg, definition } of this.configs) {
      const result = applyWindowBatch(cfg, held[id] as WindowState | undefined, routed.outputs?.[id] as WindowInput | undefined, excluded, watermarkMs);
      if (result.state) out.state[id] = definition ? { ...result.state, definition } : result.state;
      else out.cells[id] = result.cells;
    }
    // A batch that fails after this point ends the stream; the next run restarts from the checkpoint.
    this.state = { ...this.state, ...out.state };
    return out;
  }
}
