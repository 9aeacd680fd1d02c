/**
 * `pipeline top <spec>`: follows a pipeline running elsewhere — per stream records/s, lag and
 * last batch, redrawn every second on a terminal — from its checkpoint and the broker, or
 * from its metrics endpoint with `--metrics-url`.
 */
import type { Command } from '../main.js';
import { parseCommandArgs, setOption } from '../args.js';
import { UsageError } from '../../errors.js';
import { compilePlan } from '../../planner/compile.js';
import { createKafka } from '../../runtime/kafka-client.js';
import { createLogger } from '../../runtime/logger.js';
import { checkpointSource, metricsSource, renderTop, type TopSource, type TopStream } from '../../runtime/top.js';
import { loadSpecOrReport } from './plan.js';
import { kafkaSource } from '../../spec/index.js';

const usage = `Usage: pipeline top <spec.yaml> [options]

Shows a running pipeline live: per stream records/s, lag and last batch, and totals. Reads
the checkpoint and the broker (like pipeline status), or the run's /metrics endpoint.

Options:
  --metrics-url <url>  read http://host:port/metrics of the run instead of the checkpoint
  --interval <s>       seconds between frames (default 1)
  --frames <n>         stop after n frames (default: until Ctrl-C)
  --set <path=value>   override a spec value (repeatable)
  -h, --help           show this help

Exit codes: 0 stopped, 1 invalid spec or unreachable source, 2 usage error.`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const command: Command = {
  summary: 'Follow a running pipeline live: records/s, lag, last batch per stream',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { 'metrics-url': { type: 'string' }, interval: { type: 'string' }, frames: { type: 'string' }, ...setOption });
    if (positionals.length !== 1) throw new UsageError('PIPE_CLI_USAGE', positionals.length === 0 ? 'missing <spec.yaml>' : `expected one spec file, got ${positionals.length}`);
    const interval = Number(values.interval ?? '1');
    const frames = values.frames === undefined ? Infinity : Number(values.frames);
    if (!(interval > 0)) throw new UsageError('PIPE_CLI_USAGE', `--interval must be a positive number of seconds, got '${values.interval}'`);
    if (!(frames >= 1) || !Number.isInteger(frames === Infinity ? 1 : frames)) throw new UsageError('PIPE_CLI_USAGE', `--frames must be a positive integer, got '${values.frames}'`);
    const spec = await loadSpecOrReport(positionals[0]!, { set: values.set ?? [], env: process.env });
    if (!spec) return 1;
    const plan = compilePlan(spec);
    let source: TopSource;
    if (values['metrics-url']) source = metricsSource(values['metrics-url']);
    else {
      const kafkaSpec = kafkaSource(plan.source, 'pipeline top (without --metrics-url)', plan.pipeline);
      const admin = createKafka(kafkaSpec, createLogger('error', plan.pipeline), `${kafkaSpec.clientId ?? plan.pipeline}-top`, 2).admin();
      await admin.connect();
      source = checkpointSource(plan, admin);
    }
    const tty = process.stdout.isTTY === true;
    let stop = false;
    const onSignal = () => (stop = true);
    process.once('SIGINT', onSignal);
    let before: TopStream[] | undefined;
    let drawn = 0;
    try {
      for (let frame = 0; frame < frames && !stop; frame++) {
        const now = await source.read();
        const lines = renderTop(`pipeline ${plan.pipeline} — ${source.describe}`, now, before, interval);
        // On a terminal the frame replaces the last one; elsewhere frames follow each other.
        process.stdout.write(`${tty && drawn ? `\x1b[${drawn}F\x1b[0J` : ''}${lines.join('\n')}\n${tty ? '' : '\n'}`);
        drawn = lines.length;
        before = now;
        if (frame + 1 < frames) await sleep(interval * 1000);
      }
    } finally {
      process.off('SIGINT', onSignal);
      await source.close().catch(() => {});
    }
    return 0;
  },
};
