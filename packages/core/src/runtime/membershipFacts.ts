import { isHeraldError } from '../model/errors.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { DeliverySink, TopicPartition } from '../ports/broker.js';

/** What a group reports of its membership, besides reading: {@link membershipFacts}. */
export interface MembershipFacts {
  assigned(partitions: readonly TopicPartition[]): void;
  revoked(partitions: readonly TopicPartition[]): void;
  held: NonNullable<DeliverySink['held']>;
}

/**
 * The instrumentation facts of a subscription's membership, alike for an app's consumer groups and
 * for groups a package runs on its own (`@herald/reply`'s reply and wait groups): `assigned` and
 * `revoked` (what the assigned-partitions gauge follows, so a held partition's series goes when the
 * partition moves or the group closes) and `partition-held` (a partition the broker holds before
 * records it cannot read: only logged by the broker, the fact is what metrics and alerts see).
 * Empty lists report nothing.
 */
export function membershipFacts(instrumentation: Instrumentation, group: string): MembershipFacts {
  const partitionsOf = (partitions: readonly TopicPartition[]) => partitions.map(({ topic, partition }) => ({ topic, partition }));
  return {
    assigned(partitions) {
      if (instrumentation.active && partitions.length > 0) instrumentation.emit({ kind: 'assigned', group, partitions: partitionsOf(partitions) });
    },
    revoked(partitions) {
      if (instrumentation.active && partitions.length > 0) instrumentation.emit({ kind: 'revoked', group, partitions: partitionsOf(partitions) });
    },
    held({ topic, partition, offset, error }) {
      if (instrumentation.active) instrumentation.emit({ kind: 'partition-held', group, topic, partition, offset, reason: isHeraldError(error) ? error.code : error.name });
    },
  };
}
