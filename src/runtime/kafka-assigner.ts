/**
 * Static partition ownership for kafkajs consumers.
 *
 * kafkajs has no manual `assign()`: every consumer joins a group. A stream therefore uses a
 * group of its own (`<prefix>-<i>`) with this assigner, which gives one member the fixed set
 * of partitions the stream owns (every partition p with p % streamCount == streamIndex)
 * instead of balancing them. The stream's checkpoint, not the group, decides
 * where reading starts (`consumer.seek`); group offset commits are only for lag tools.
 *
 * Every member announces the same protocol name and carries its stream layout (`i/N`) in
 * the member metadata. The group leader gives the owned partitions to one member whose layout
 * matches its own and nothing to anyone else, so a partition is never read twice at once even
 * during a rolling deploy that changes `streams`. A member that receives no partitions although
 * its layout owns some (see {@link isStarved}) is a duplicate and should stop with an error.
 * (Distinct protocol names per layout would let Kafka reject the newcomer itself, but
 * librdkafka's mock broker aborts when one group sees two protocol names.)
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

/** Protocol name announced in JoinGroup by every stream consumer. */
export const STREAM_ASSIGNER_NAME = 'pipeline-stream';

function encodeLayout({ streamIndex, streamCount }: StreamOwnership): Buffer {
  return Buffer.from(JSON.stringify({ streamIndex, streamCount }));
}

function decodeLayout(memberMetadata: Buffer): StreamOwnership | undefined {
  try {
    const { userData } = AssignerProtocol.MemberMetadata.decode(memberMetadata)!;
    const layout = JSON.parse(userData.toString()) as StreamOwnership;
    return Number.isInteger(layout.streamIndex) && Number.isInteger(layout.streamCount) ? layout : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when a member was handed no partitions of `topic` although its layout owns some of the
 * topic's `partitionCount`: another member of the same stream holds them.
 */
export function isStarved(assignment: Record<string, number[]>, topic: string, partitionCount: number, ownership: StreamOwnership): boolean {
  return (assignment[topic]?.length ?? 0) === 0 && ownedPartitions(partitionCount, ownership).length > 0;
}

/**
 * A kafkajs partition assigner that gives the stream's owned partitions of every subscribed
 * topic to one member: the lowest member id among those announcing the leader's layout.
 * Every other member (a zombie, a replica started twice, a different `streams` value) gets
 * nothing.
 */
export function streamPartitionAssigner(ownership: StreamOwnership): PartitionAssigner {
  if (!Number.isInteger(ownership.streamCount) || ownership.streamCount < 1) {
    throw new RangeError(`streamCount must be a positive integer, got ${ownership.streamCount}`);
  }
  if (!Number.isInteger(ownership.streamIndex) || ownership.streamIndex < 0 || ownership.streamIndex >= ownership.streamCount) {
    throw new RangeError(`streamIndex must be in [0, ${ownership.streamCount}), got ${ownership.streamIndex}`);
  }
  const sameLayout = (layout: StreamOwnership | undefined) =>
    layout?.streamIndex === ownership.streamIndex && layout.streamCount === ownership.streamCount;
  return ({ cluster }) => ({
    name: STREAM_ASSIGNER_NAME,
    version: 0,
    async assign({ members, topics }) {
      const owner = members
        .filter((m) => sameLayout(decodeLayout(m.memberMetadata)))
        .map((m) => m.memberId)
        .sort()[0];
      const owned: Record<string, number[]> = {};
      for (const topic of topics) {
        owned[topic] = ownedPartitions(cluster.findTopicPartitionMetadata(topic).length, ownership);
      }
      const encode = (assignment: Record<string, number[]>) =>
        AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) });
      return members.map(({ memberId }) => ({ memberId, memberAssignment: encode(memberId === owner ? owned : {}) }));
    },
    protocol({ topics }) {
      return {
        name: STREAM_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: encodeLayout(ownership) }),
      };
    },
  });
}
