/**
 * Static partition ownership for kafkajs consumers.
 *
 * kafkajs has no manual `assign()`: every consumer joins a group. A stream therefore uses a
 * group of its own (`<prefix>-<i>`) with this assigner, which hands the group's leader the
 * fixed set of partitions the stream owns (every partition p with p % streamCount ==
 * streamIndex) instead of balancing them. The stream's checkpoint, not the group, decides
 * where reading starts (`consumer.seek`); group offset commits are only for lag tools.
 *
 * The protocol name carries `i/N`, so a member started with a different stream layout
 * cannot join the same group: the broker rejects it with INCONSISTENT_GROUP_PROTOCOL rather
 * than letting two layouts read overlapping partitions.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** Which stream this consumer serves, out of how many. */
export interface StreamOwnership {
  streamIndex: number;
  streamCount: number;
}

/** The partitions of a `partitionCount`-partition topic that a stream owns, ascending. */
export function ownedPartitions(partitionCount: number, { streamIndex, streamCount }: StreamOwnership): number[] {
  const owned: number[] = [];
  for (let p = streamIndex; p < partitionCount; p += streamCount) owned.push(p);
  return owned;
}

/** Protocol name announced in JoinGroup; differs per stream layout on purpose. */
export function streamAssignerName({ streamIndex, streamCount }: StreamOwnership): string {
  return `pipeline-stream-${streamIndex}-of-${streamCount}`;
}

/**
 * A kafkajs partition assigner that gives the stream's owned partitions of every subscribed
 * topic to one member. A group normally has one member; if a second process of the same
 * stream joins (a zombie, a mis-deployed replica), the lowest member id keeps everything and
 * the other gets nothing, so a partition is never read twice at once.
 */
export function streamPartitionAssigner(ownership: StreamOwnership): PartitionAssigner {
  if (!Number.isInteger(ownership.streamCount) || ownership.streamCount < 1) {
    throw new RangeError(`streamCount must be a positive integer, got ${ownership.streamCount}`);
  }
  if (!Number.isInteger(ownership.streamIndex) || ownership.streamIndex < 0 || ownership.streamIndex >= ownership.streamCount) {
    throw new RangeError(`streamIndex must be in [0, ${ownership.streamCount}), got ${ownership.streamIndex}`);
  }
  const name = streamAssignerName(ownership);
  return ({ cluster }) => ({
    name,
    version: 0,
    async assign({ members, topics }) {
      const [owner, ...others] = members.map((m) => m.memberId).sort();
      const assignment: Record<string, number[]> = {};
      for (const topic of topics) {
        const count = cluster.findTopicPartitionMetadata(topic).length;
        assignment[topic] = ownedPartitions(count, ownership);
      }
      const encode = (a: Record<string, number[]>) => AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: a, userData: Buffer.alloc(0) });
      return [
        { memberId: owner!, memberAssignment: encode(assignment) },
        ...others.map((memberId) => ({ memberId, memberAssignment: encode({}) })),
      ];
    },
    protocol({ topics }) {
      return { name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
  });
}
