/**
 * The HTTP endpoint of `pipeline run --metrics-port`: `/metrics` (Prometheus text format),
 * `/healthz` (200 while no stream has failed) and `/readyz` (200 once every stream started
 * and lag has been read from the broker once; 503 before, and after a failure).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PipelineError } from '../errors.js';
import type { RunMetrics } from './run-metrics.js';

/** What the health endpoints answer from. */
export interface HealthSource {
  healthy(): boolean;
  ready(): boolean;
}

/** A started metrics server. */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on `host:port` (port 0 picks a free one); rejects with PIPE_METRICS_PORT when it cannot. */
export function startMetricsServer(metrics: RunMetrics, health: HealthSource, port: number, host: string): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    } else if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? health.healthy() : health.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : path === '/healthz' ? 'a stream failed\n' : 'not ready\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics, /healthz or /readyz\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PipelineError('PIPE_METRICS_PORT', `cannot serve metrics on ${host}:${port}: ${err.code ?? err.message}`, {
          cause: err,
          hint: err.code === 'EADDRINUSE' ? 'another process uses the port: pick another --metrics-port (0 picks a free one)' : 'check --metrics-host and --metrics-port',
        }),
      ),
    );
    server.listen(port, host, () => {
      // Scrapes must not keep a finished run alive.
      server.unref();
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
