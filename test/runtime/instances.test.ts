/**
 * `--instance i/K`: parsing and its environment forms, which streams an instance runs, the
 * refusals (K > streams, re-sharding with several instances), and the checkpoint lock telling
 * a duplicate instance from a predecessor that left its lock behind.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PipelineError, UsageError } from '../../src/errors.js';
import { acquireLock } from '../../src/runtime/checkpoint-lock.js';
import { checkLayout, readCheckpointMetadata } from '../../src/runtime/checkpoint-layout.js';
import { checkInstanceAggregations, checkInstanceReshard, instanceStreams, parseInstance, resolveInstance } from '../../src/runtime/instances.js';

describe('instance i/K', () => {
  it('parses i/K and refuses malformed values and K/K as usage errors', () => {
    expect(parseInstance('1/3', '--instance')).toEqual({ index: 1, count: 3 });
    expect(parseInstance(' 0 / 1 ', '--instance')).toEqual({ index: 0, count: 1 });
    for (const bad of ['2/2', '3/2', 'x', '1', '1/', '/2', '-1/2', '1/0', '1.5/2', '0/2/3', '']) {
      expect(() => parseInstance(bad, '--instance'), bad).toThrow(UsageError);
    }
    expect(() => parseInstance('2/2', '--instance')).toThrow(/instance 2 of 2 does not exist; instances are numbered 0 to 1/);
  });

  it('takes the flag first, then PIPELINE_INSTANCE, then a StatefulSet ordinal, else 0/1', () => {
    const env = { PIPELINE_INSTANCE: '1/2', PIPELINE_INSTANCES: '4', HOSTNAME: 'pipeline-3' };
    expect(resolveInstance({ flag: '0/3', env })).toEqual({ index: 0, count: 3, origin: 'flag' });
    expect(resolveInstance({ env })).toEqual({ index: 1, count: 2, origin: 'PIPELINE_INSTANCE' });
    expect(resolveInstance({ env: { PIPELINE_INSTANCES: '4', HOSTNAME: 'commerce-pipeline-3' } })).toEqual({ index: 3, count: 4, origin: 'HOSTNAME' });
    expect(resolveInstance({ env: {} })).toEqual({ index: 0, count: 1, origin: 'default' });
    expect(() => resolveInstance({ env: { PIPELINE_INSTANCES: '4', HOSTNAME: 'laptop' } })).toThrow(/does not end in -<ordinal>/);
    expect(() => resolveInstance({ env: { PIPELINE_INSTANCES: '2', HOSTNAME: 'pipeline-2' } })).toThrow(/instance 2 of 2 does not exist/);
    expect(() => resolveInstance({ env: { PIPELINE_INSTANCE: 'two' } })).toThrow(/PIPELINE_INSTANCE must look like i\/K/);
  });

  it('runs the streams j with j % K == i and refuses more instances than streams', () => {
    expect(instanceStreams({ index: 0, count: 1 }, 3)).toEqual([0, 1, 2]);
    expect(instanceStreams({ index: 0, count: 2 }, 5)).toEqual([0, 2, 4]);
    expect(instanceStreams({ index: 1, count: 2 }, 5)).toEqual([1, 3]);
    expect(instanceStreams({ index: 2, count: 3 }, 3)).toEqual([2]);
    const all = [0, 1, 2].flatMap((i) => instanceStreams({ index: i, count: 3 }, 8)).sort((a, b) => a - b);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    let err: unknown;
    try {
      instanceStreams({ index: 0, count: 3 }, 2);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('PIPE_INSTANCE_COUNT');
    expect((err as PipelineError).message).toMatch(/3 instances but the spec has streams: 2/);
  });

  it('leaves re-sharding to a single process', () => {
    const base = { root: '/cp', streams: 4 };
    expect(() => checkInstanceReshard({ ...base, instance: { index: 0, count: 1 }, reshard: true, previousStreams: 2 })).not.toThrow();
    const two = { index: 1, count: 2 };
    expect(() => checkInstanceReshard({ ...base, instance: two, reshard: false })).not.toThrow();
    const codeOf = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return [(e as PipelineError).code, (e as PipelineError).hint];
      }
      return undefined;
    };
    expect(codeOf(() => checkInstanceReshard({ ...base, instance: two, reshard: true }))?.[0]).toBe('PIPE_INSTANCE_RESHARD');
    expect(codeOf(() => checkInstanceReshard({ ...base, instance: two, reshard: false, pendingReshardTo: 4 }))?.[0]).toBe('PIPE_INSTANCE_RESHARD');
    const changed = codeOf(() => checkInstanceReshard({ ...base, instance: two, reshard: false, previousStreams: 2 }));
    expect(changed?.[0]).toBe('PIPE_CHECKPOINT_STREAMS');
    expect(changed?.[1]).toMatch(/stop every instance, run once as a single process .* with --reshard/);
  });
});

describe('checkpoint lock with instances', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'instances-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second process with the same instance as a duplicate, and names the instance otherwise', () => {
    // The holder is another live process on this host: pid 1 is always alive.
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 1, hostname: hostname(), startedAt: 'then', instance: '0/2' }));
    const attempt = (instance?: string) => {
      try {
        acquireLock(dir, 'checkpoint of stream 0', instance);
      } catch (e) {
        return `${(e as PipelineError).code} ${(e as PipelineError).message}`;
      }
      return 'acquired';
    };
    expect(attempt('0/2')).toBe(`PIPE_INSTANCE_DUPLICATE instance 0/2 is already running: checkpoint of stream 0 is in use by pid 1 on ${hostname()} (since then)`);
    expect(attempt('0/3')).toBe(`PIPE_CHECKPOINT_LOCKED checkpoint of stream 0 is in use by instance 0/2, pid 1 on ${hostname()} (since then)`);
    expect(attempt()).toMatch(/^PIPE_CHECKPOINT_LOCKED .* in use by instance 0\/2, pid 1/);
  });

  it('takes over a lock naming its own pid that it never took (a restarted container is pid 1 again)', () => {
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: 'before the restart', instance: '1/2' }));
    const held = acquireLock(dir, 'checkpoint of stream 1', '1/2');
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, instance: '1/2' });
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')).startedAt).not.toBe('before the restart');
    // Held by this process now: a second take in the same process is refused.
    expect(() => acquireLock(dir, 'checkpoint of stream 1', '1/2')).toThrow(/instance 1\/2 is already running/);
    held.release();
  });

  it('lets exactly one of several starting instances write the checkpoint metadata', () => {
    const req = { root: dir, pipeline: 'p', topic: 't', streams: 2 };
    expect(checkLayout(req, undefined)).toEqual({ created: true });
    const first = readFileSync(join(dir, 'metadata.json'), 'utf8');
    // A second instance that read "no metadata" before the first wrote it checks against it.
    expect(checkLayout(req, undefined)).toEqual({ created: false });
    expect(checkLayout({ ...req, streams: 4 }, undefined)).toEqual({ created: false, previousStreams: 2 });
    expect(readFileSync(join(dir, 'metadata.json'), 'utf8')).toBe(first);
    expect(readCheckpointMetadata(dir)?.streams).toBe(2);
  });

  it('refuses any aggregation with more than one instance (update read-merge-writes would overwrite each other; append windows need every stream)', () => {
    const windows = [{ name: 'per_minute', outputMode: 'update' }, { name: 'final', outputMode: 'append' }];
    expect(() => checkInstanceAggregations({ index: 0, count: 1 }, windows)).not.toThrow();
    expect(() => checkInstanceAggregations({ index: 1, count: 2 }, [])).not.toThrow();
    expect(() => checkInstanceAggregations({ index: 1, count: 2 }, [windows[1]!])).toThrow(expect.objectContaining({ code: 'PIPE_INSTANCE_AGGREGATION', message: expect.stringContaining('final has outputMode: append') }));
    expect(() => checkInstanceAggregations({ index: 1, count: 2 }, windows)).toThrow(expect.objectContaining({ code: 'PIPE_INSTANCE_AGGREGATION', message: expect.stringContaining('per_minute') }));
  });
});
