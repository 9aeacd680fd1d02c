import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { command } from '../../src/cli/commands/dev-broker.js';
import { consumeUntil, fastGroup, kafkaClient } from './kafka-helpers.js';

describe('pipeline dev-broker', () => {
  afterEach(() => vi.restoreAllMocks());

  it('rejects bad flags as usage errors', async () => {
    await expect(command.run(['--partitions', '0'])).rejects.toBeInstanceOf(UsageError);
    await expect(command.run(['--topic', 'bad topic'])).rejects.toThrow(/valid Kafka topic/);
    await expect(command.run(['--nope'])).rejects.toBeInstanceOf(UsageError);
    await expect(command.run(['--compression', 'lz4'])).rejects.toThrow(/none or gzip/);
  });

  it('serves generated events on the printed bootstrap until interrupted', async () => {
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const exit = command.run(['--port', '0', '--partitions', '4', '--topic', 'dev_events', '--events', '500', '--seed', '3', '--compression', 'gzip']);
    await vi.waitFor(() => expect(printed.join('\n')).toMatch(/ready: localhost:\d+/), { timeout: 30_000 });
    const bootstrap = /ready: (\S+)/.exec(printed.join('\n'))![1]!;
    expect(printed.join('\n')).toContain(`KAFKA_BROKERS=${bootstrap} pipeline run pipelines/commerce-events.yaml`);

    const seen = await consumeUntil(kafkaClient(bootstrap).consumer({ groupId: 'dev-reader', ...fastGroup }), 'dev_events', 500);
    expect(seen).toHaveLength(500);
    expect(new Set(seen.map((r) => r.partition))).toEqual(new Set([0, 1, 2, 3]));

    process.emit('SIGINT');
    expect(await exit).toBe(0);
  });
});
