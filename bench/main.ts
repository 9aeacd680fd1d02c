/**
 * `npm run bench [scenario...]`: runs benchmark scenarios, writes `bench/results/<scenario>.json`
 * (figures and target checks) and prints a human summary; `npm run docs` renders the latest
 * results of every scenario into docs/reference/performance.md. Targets are checked in the
 * report, never in `npm test`. Exit code 1 when a scenario produced wrong tables (a fast wrong run fails);
 * missed timing targets are reported, not fatal.
 */
import { mkdirSync } from 'node:fs';
import { machineInfo, resultsDir, say } from './lib.js';

/** One target the report checks, e.g. "records/s ≥ 100,000". */
export interface TargetCheck {
  target: string;
  actual: string;
  met: boolean;
}

/** What every scenario returns; `figures` also land in the JSON file. */
export interface ScenarioReport {
  /** False when the output was wrong (row counts differ from the reference): fails the bench. */
  correct: boolean;
  summary: string[];
  targets: TargetCheck[];
}

type Scenario = () => Promise<ScenarioReport>;

const scenarios: Record<string, () => Promise<Scenario>> = {
  backfill: async () => (await import('./scenarios/backfill.js')).backfill,
  'backfill-s3': async () => (await import('./scenarios/backfill-s3.js')).backfillS3,
  steady: async () => (await import('./scenarios/steady.js')).steady,
  latency: async () => (await import('./scenarios/latency.js')).latency,
  'steady-brokers': async () => (await import('./scenarios/steady-brokers.js')).steadyBrokers,
  lake: async () => (await import('./scenarios/lake.js')).lake,
  decode: async () => (await import('./scenarios/decode.js')).decode,
  'avro-backfill': async () => (await import('./scenarios/avro-backfill.js')).avroBackfill,
  brokers: async () => (await import('./scenarios/brokers.js')).brokers,
  'scale-out': async () => (await import('./scenarios/scale-out.js')).scaleOut,
  windows: async () => (await import('./scenarios/windows.js')).windows,
  'merge-scaling': async () => (await import('./scenarios/merge-scaling.js')).mergeScaling,
  staged: async () => (await import('./scenarios/staged.js')).staged,
  handoff: async () => (await import('./scenarios/handoff.js')).handoff,
};

async function main(): Promise<number> {
  const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = requested.length > 0 ? requested : Object.keys(scenarios);
  for (const n of names) {
    if (!scenarios[n]) {
      console.error(`bench: unknown scenario '${n}' (known: ${Object.keys(scenarios).join(', ')})`);
      return 2;
    }
  }
  mkdirSync(resultsDir, { recursive: true });
  const started = Date.now();
  let allCorrect = true;
  for (const name of names) {
    say(`scenario ${name}`);
    const t0 = Date.now();
    const report = await (await scenarios[name]!())();
    allCorrect &&= report.correct;
    const lines = [`## ${name}${report.correct ? '' : ' — WRONG OUTPUT'} (${((Date.now() - t0) / 1000).toFixed(0)} s)`, '', ...report.summary, ''];
    if (report.targets.length > 0) {
      lines.push('| target | actual | met |', '|---|---|---|');
      for (const t of report.targets) lines.push(`| ${t.target} | ${t.actual} | ${t.met ? 'yes' : '**no**'} |`);
      lines.push('');
    }
    process.stdout.write(lines.join('\n') + '\n');
  }
  const m = machineInfo();
  say(`${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}; commit ${m.commit}; ${names.length} scenario(s) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (!allCorrect) {
    console.error('bench: at least one scenario produced wrong output (see above)');
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
