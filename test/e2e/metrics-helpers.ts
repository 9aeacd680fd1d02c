/**
 * Reading a running pipeline from outside, as Prometheus and an operator would: the port the
 * metrics server logged, scrapes of `/metrics` parsed into samples, and sums per metric.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parsePrometheus, type Sample } from '../../src/runtime/prometheus-text.js';

export type { Sample } from '../../src/runtime/prometheus-text.js';
export { sumSamples as sum } from '../../src/runtime/prometheus-text.js';

/** Resolves with the port from the run's `serving metrics` log line. */
export function metricsPort(child: ChildProcess, timeoutMs = 60_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no 'serving metrics' line in ${timeoutMs} ms:\n${text.slice(-2000)}`)), timeoutMs);
    child.stderr!.on('data', (d) => {
      text += d;
      const m = /"port":(\d+)[^\n]*"msg":"serving metrics"/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', () => reject(new Error(`run exited before serving metrics:\n${text.slice(-2000)}`)));
  });
}

/** GETs `path` on the metrics server; status and body. */
export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Scrapes `/metrics` and parses it. */
export async function scrape(port: number): Promise<Sample[]> {
  const { status, body } = await get(port, '/metrics');
  if (status !== 200) throw new Error(`/metrics answered ${status}`);
  return parsePrometheus(body);
}

/** The headless browser the report test uses (Debian `chromium`), or undefined when absent. */
export function findChromium(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const name of ['chromium', 'chromium-browser']) {
      const path = `${dir}/${name}`;
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}
