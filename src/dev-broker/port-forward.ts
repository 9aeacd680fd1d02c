/**
 * A loopback TCP forwarder that gives the test broker a fixed bootstrap port.
 *
 * librdkafka 2.0.2's mock brokers listen on ephemeral ports and cannot be told which one.
 * Kafka clients only use the bootstrap address for their first metadata request and then
 * connect to the advertised broker addresses, so forwarding the bootstrap port is enough.
 * Listens on 127.0.0.1 and, when available, ::1, because `localhost` may resolve to either.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { SourceError } from '../errors.js';

/** A listening forwarder. */
export interface PortForwarder {
  port: number;
  close(): Promise<void>;
}

/** Connects to the first target that accepts, trying them in order (a broker may be down). */
function connectToAny(targets: string[], index = 0): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const [host, port] = splitHostPort(targets[index]!);
    const upstream = createConnection({ host, port });
    upstream.once('connect', () => {
      upstream.removeAllListeners('error');
      resolve(upstream);
    });
    upstream.once('error', (err) => {
      if (index + 1 < targets.length) connectToAny(targets, index + 1).then(resolve, reject);
      else reject(err);
    });
  });
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

/** Listens on `port` (0 = any free port) and forwards every connection to one of `targets`. */
export async function startPortForwarder(port: number, targets: string[]): Promise<PortForwarder> {
  const sockets = new Set<Socket>();
  const onConnection = (client: Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    connectToAny(targets).then(
      (upstream) => {
        sockets.add(upstream);
        upstream.on('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => upstream.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      },
      () => client.destroy(),
    );
  };
  const v4 = createServer(onConnection);
  try {
    await listen(v4, port, '127.0.0.1');
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new SourceError('PIPE_BROKER_PORT', inUse ? `port ${port} is already in use` : `cannot listen on port ${port}: ${(err as Error).message}`, {
      cause: err,
      hint: inUse ? 'stop whatever listens there (another broker?) or pick another --port' : undefined,
    });
  }
  const bound = (v4.address() as { port: number }).port;
  const servers = [v4];
  const v6 = createServer(onConnection);
  try {
    await listen(v6, bound, '::1');
    servers.push(v6);
  } catch {
    // No IPv6 loopback here: `localhost` then resolves to 127.0.0.1 only, which is served.
  }
  return {
    port: bound,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
