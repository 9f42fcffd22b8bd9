import { AssignerProtocol, PartitionAssigners } from 'kafkajs';
import type { PartitionAssigner } from 'kafkajs';

/**
 * kafkajs's round-robin assigner (its name and protocol, so every member of a Herald group speaks
 * the same one), giving every member an assignment, an empty one when there are more members than
 * partitions. kafkajs's own leaves such members out of the leader's SyncGroup: a Kafka broker fills
 * the gap with empty assignments, but a coordinator that waits for an assignment per member (the
 * librdkafka mock cluster does) never completes the sync, and the group rebalances forever. Naming
 * every member is also what the Java client does. `onMembers` hears the member count at each
 * assignment this member makes as leader.
 */
export function roundRobinToEveryMember(onMembers?: (count: number) => void): PartitionAssigner {
  return (config) => {
    const roundRobin = PartitionAssigners.roundRobin(config);
    return {
      name: roundRobin.name,
      version: roundRobin.version,
      protocol: (subscription) => roundRobin.protocol(subscription),
      async assign(group) {
        onMembers?.(group.members.length);
        const given = await roundRobin.assign(group);
        const named = new Set(given.map((a) => a.memberId));
        const nothing = AssignerProtocol.MemberAssignment.encode({ version: roundRobin.version, assignment: {}, userData: Buffer.alloc(0) });
        const idle = group.members.filter((m) => !named.has(m.memberId)).map((m) => ({ memberId: m.memberId, memberAssignment: nothing }));
        return [...given, ...idle];
      },
    };
  };
}
