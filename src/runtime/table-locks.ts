/**
 * Per-table commit serialisation between the stream workers of one process. The main thread
 * owns a FIFO lock per table; workers ask over a dedicated MessagePort. Streams of one process
 * therefore never race each other's commits (which would waste a whole MERGE on a conflict);
 * across processes the lake's optimistic concurrency stays the safety net.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';

type LockRequest = { type: 'lock'; table: string; id: number } | { type: 'unlock'; table: string };
type LockReply = { type: 'granted'; id: number };

/** Main-thread side: grants locks in request order; frees a dead worker's locks. */
export class TableLockServer {
  private readonly holders = new Map<string, MessagePort>();
  private readonly queues = new Map<string, { port: MessagePort; id: number }[]>();

  /** A new port pair for one worker; the returned port goes to the worker (transfer it). */
  connect(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (msg: LockRequest) => {
      if (msg.type === 'lock') this.request(port1, msg.table, msg.id);
      else this.release(port1, msg.table);
    });
    port1.on('close', () => this.dropPort(port1));
    port1.unref();
    return port2;
  }

  private request(port: MessagePort, table: string, id: number): void {
    if (!this.holders.has(table)) {
      this.holders.set(table, port);
      port.postMessage({ type: 'granted', id } satisfies LockReply);
      return;
    }
    let queue = this.queues.get(table);
    if (!queue) this.queues.set(table, (queue = []));
    queue.push({ port, id });
  }

  private release(port: MessagePort, table: string): void {
    if (this.holders.get(table) !== port) return;
    const next = this.queues.get(table)?.shift();
    if (!next) {
      this.holders.delete(table);
      return;
    }
    this.holders.set(table, next.port);
    next.port.postMessage({ type: 'granted', id: next.id } satisfies LockReply);
  }

  /** Frees everything a port held or waited for (its worker exited). */
  dropPort(port: MessagePort): void {
    for (const [table, queue] of this.queues) this.queues.set(table, queue.filter((q) => q.port !== port));
    for (const [table, holder] of [...this.holders]) if (holder === port) this.release(port, table);
  }
}

/** Worker side: `withLock(table, fn)` runs fn while holding the table's lock. */
export class TableLockClient {
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();

  constructor(private readonly port: MessagePort | undefined) {
    port?.on('message', (msg: LockReply) => {
      const resolve = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      resolve?.();
    });
    port?.unref();
  }

  async withLock<T>(table: string, fn: () => Promise<T>): Promise<T> {
    if (!this.port) return fn();
    const id = this.nextId++;
    const granted = new Promise<void>((resolve) => this.waiting.set(id, resolve));
    this.port.ref();
    this.port.postMessage({ type: 'lock', table, id } satisfies LockRequest);
    await granted;
    if (this.waiting.size === 0) this.port.unref();
    try {
      return await fn();
    } finally {
      this.port.postMessage({ type: 'unlock', table } satisfies LockRequest);
    }
  }

  close(): void {
    this.port?.close();
  }
}
