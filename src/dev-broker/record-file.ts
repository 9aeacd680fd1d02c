/**
 * Reads the record files that {@link writeRecordFile} writes (the mock launcher's framing),
 * so a producer other than the launcher can send the same records.
 */
import { readFileSync } from 'node:fs';

/** One record of a record file; `timestamp` is absent when it was written as producer time. */
export interface ReadRecord {
  key: Buffer | null;
  value: Buffer;
  timestamp?: number;
}

const NULL_LENGTH = 0xffffffff;

/** Yields the records of `file` in order (the whole file is read at once: test-sized files). */
export function* readRecordFile(file: string): Generator<ReadRecord> {
  const buf = readFileSync(file);
  let at = 0;
  while (at < buf.length) {
    const keyLength = buf.readUInt32BE(at);
    at += 4;
    const key = keyLength === NULL_LENGTH ? null : buf.subarray(at, (at += keyLength));
    const valueLength = buf.readUInt32BE(at);
    at += 4;
    const value = buf.subarray(at, (at += valueLength));
    const high = buf.readInt32BE(at);
    const low = buf.readUInt32BE(at + 4);
    at += 8;
    yield { key, value, timestamp: high < 0 ? undefined : high * 0x1_0000_0000 + low };
  }
}
