/** The Apache Kafka launcher's cluster ids: valid for `kafka-storage format -t <id>`. */
import { describe, expect, it } from 'vitest';
import { newClusterId } from '../../src/dev-broker/kafka-broker.js';

describe('newClusterId', () => {
  it('is 16 random bytes in base64url and never starts with "-" (the storage tool would read it as an option)', () => {
    // One id in 64 would start with '-': 5,000 draws meet one with near certainty.
    const ids = Array.from({ length: 5000 }, newClusterId);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});
