/**
 * Scale-out: `pipeline run --instance i/K` runs instance i of K processes of one pipeline.
 * Instance i runs the global streams j with j % K == i; each stream keeps owning the
 * partitions p with p % streams == j, its own checkpoint directory, lock and txn app id, so
 * exactly-once is the single-process protocol unchanged and instances never talk to each
 * other — only through Kafka (one consumer group per stream) and the Delta log (optimistic
 * concurrency). Changing K therefore moves whole streams between processes and needs no
 * re-shard; changing `streams` does, and that is done by one process (see
 * {@link checkInstanceReshard}).
 */
import { CheckpointError, PipelineError, UsageError } from '../errors.js';

/** Which instance this process is, out of how many, and where that came from. */
export interface Instance {
  index: number;
  count: number;
  /** `--instance`, `PIPELINE_INSTANCE`, the pod ordinal in `HOSTNAME`, or the default `0/1`. */
  origin: 'flag' | 'PIPELINE_INSTANCE' | 'HOSTNAME' | 'default';
}

/** What the instance is resolved from: the flag and the process environment. */
export interface InstanceSources {
  flag?: string;
  env: NodeJS.ProcessEnv;
}

const MAX_INSTANCES = 10_000;

/** `i/K` as written by a user; `label` names where it came from in the error. */
export function parseInstance(text: string, label: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError('PIPE_CLI_USAGE', `${label} must look like i/K (instance i of K, counted from 0), e.g. 0/2; got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > MAX_INSTANCES) throw new UsageError('PIPE_CLI_USAGE', `${label}: K must be between 1 and ${MAX_INSTANCES}, got ${count} in '${text}'`);
  if (index >= count) {
    throw new UsageError('PIPE_CLI_USAGE', `${label}: instance ${index} of ${count} does not exist; instances are numbered 0 to ${count - 1}, got '${text}'`);
  }
  return { index, count };
}

/**
 * Resolves the instance: `--instance i/K`, else `PIPELINE_INSTANCE=i/K`, else — in a
 * Kubernetes StatefulSet, whose pods are named `<set>-<ordinal>` — `PIPELINE_INSTANCES=K`
 * with the ordinal at the end of `HOSTNAME`; else `0/1` (one process runs every stream).
 */
export function resolveInstance({ flag, env }: InstanceSources): Instance {
  if (flag !== undefined) return { ...parseInstance(flag, '--instance'), origin: 'flag' };
  if (env.PIPELINE_INSTANCE) return { ...parseInstance(env.PIPELINE_INSTANCE, 'PIPELINE_INSTANCE'), origin: 'PIPELINE_INSTANCE' };
  if (env.PIPELINE_INSTANCES) {
    const count = env.PIPELINE_INSTANCES.trim();
    const ordinal = /-(\d+)$/.exec(env.HOSTNAME ?? '')?.[1];
    if (ordinal === undefined) {
      throw new UsageError(
        'PIPE_CLI_USAGE',
        `PIPELINE_INSTANCES=${count} is set, but HOSTNAME '${env.HOSTNAME ?? ''}' does not end in -<ordinal> as a StatefulSet pod's name does; ` +
          'set PIPELINE_INSTANCE=i/K or pass --instance i/K instead',
      );
    }
    return { ...parseInstance(`${ordinal}/${count}`, `PIPELINE_INSTANCES with HOSTNAME '${env.HOSTNAME}'`), origin: 'HOSTNAME' };
  }
  return { index: 0, count: 1, origin: 'default' };
}

/**
 * The global streams instance `i/K` runs, ascending. Refuses K > streams: some instance
 * would own no stream at all and sit idle while looking healthy to its orchestrator.
 */
export function instanceStreams(instance: Pick<Instance, 'index' | 'count'>, streams: number): number[] {
  if (instance.count > streams) {
    throw new PipelineError(
      'PIPE_INSTANCE_COUNT',
      `--instance ${instance.index}/${instance.count}: ${instance.count} instances but the spec has streams: ${streams}. ` +
        `An instance runs whole streams (stream j belongs to instance j % K), so instances beyond ${streams} would have nothing to do`,
      { hint: `run at most ${streams} instances, or raise streams (a checkpoint-breaking change: stop every instance and run once with --reshard)` },
    );
  }
  const own: number[] = [];
  for (let j = instance.index; j < streams; j += instance.count) own.push(j);
  return own;
}

/** `i/K`, as shown in logs, summaries and lock files. */
export function instanceLabel(instance: Pick<Instance, 'index' | 'count'>): string {
  return `${instance.index}/${instance.count}`;
}

/**
 * An `update` aggregation reads its stored window rows, adds the batch's partials and writes
 * them back under a lock that only one process holds: two processes would overwrite each
 * other's counts. An `append` aggregation is written by one emitter that reads every stream's
 * committed partials, which an instance holding only its own streams cannot see. So with
 * K > 1 such a spec is refused instead of losing updates or windows.
 */
export function checkInstanceAggregations(instance: Pick<Instance, 'index' | 'count'>, windows: readonly { name: string; outputMode: string }[]): void {
  if (instance.count === 1 || windows.length === 0) return;
  const modes = [...new Set(windows.map((w) => w.outputMode))].sort().reverse().join(' / ');
  throw new PipelineError('PIPE_INSTANCE_AGGREGATION', `--instance ${instanceLabel(instance)}: aggregation ${windows.map((w) => w.name).join(', ')} has outputMode: ${modes}, which one process must write`, {
    hint: 'run the pipeline as one process (more streams scale it within the process), or move the aggregation to its own pipeline',
  });
}

/**
 * Re-sharding rewrites every stream directory, so it needs every stream's lock: only a
 * process that runs all streams (K = 1) may do it. With K > 1 `--reshard`, an interrupted
 * re-shard, or a changed `streams` is refused with the procedure to follow.
 */
export function checkInstanceReshard(req: { instance: Pick<Instance, 'index' | 'count'>; reshard: boolean; pendingReshardTo?: number; previousStreams?: number; streams: number; root: string }): void {
  if (req.instance.count === 1) return;
  const label = instanceLabel(req.instance);
  const procedure = `stop every instance, run once as a single process (no --instance, or --instance 0/1) with --reshard and --available-now, then start the ${req.instance.count} instances again`;
  if (req.reshard) {
    throw new PipelineError('PIPE_INSTANCE_RESHARD', `--reshard cannot be combined with --instance ${label}: a re-shard moves the checkpoints of every stream, and this instance holds only its own`, {
      hint: procedure,
    });
  }
  if (req.pendingReshardTo !== undefined) {
    throw new CheckpointError('PIPE_INSTANCE_RESHARD', `checkpoint ${req.root} has an unfinished re-shard to streams: ${req.pendingReshardTo}; instance ${label} cannot finish it alone`, {
      hint: procedure,
    });
  }
  if (req.previousStreams !== undefined && req.previousStreams !== req.streams) {
    throw new CheckpointError(
      'PIPE_CHECKPOINT_STREAMS',
      `checkpoint ${req.root} was written with streams: ${req.previousStreams}, but the spec now says streams: ${req.streams}. ` +
        `Stream j owns the partitions p with p % streams == j, so changing the count moves partitions between stream checkpoints`,
      { hint: procedure, details: { previous: req.previousStreams, requested: req.streams } },
    );
  }
}
