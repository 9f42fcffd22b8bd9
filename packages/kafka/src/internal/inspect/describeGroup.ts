import type { Admin } from 'kafkajs';
import { CoreErrors, HeraldError } from '@herald/core';
import type { DescribeGroupOptions, GroupDescription, PartitionLag, PartitionRange } from '@herald/core';
import { isUnsupportedApi, toHeraldError } from '../errors.js';
import { committedOffsets } from './committedOffsets.js';
import type { InspectDeps } from './deps.js';
import { checkName, existingTopics } from './deps.js';
import { topicRanges } from './topicRanges.js';

/**
 * Where `group` stands, read without joining it: its live members (DescribeGroups), and for every
 * partition of each topic it has committed on, in topic then partition order, the committed offset
 * as the broker holds it (null where it never committed: Kafka keeps no start position, so a member
 * running there without a commit yet changes nothing), the end offset and the lag (see
 * {@link lagOf}). Every partition of the existing topics named in `options.topics` is described
 * too, committed or not: that is how a group stuck before its first commit shows its lag. A group
 * the cluster does not know has no members, and no partitions unless topics are named. A broker that
 * cannot describe groups (the mock cluster) is detected once and logged: members are then those
 * this instance runs, a lower bound.
 */
export async function describeGroup(deps: InspectDeps, group: string, options?: DescribeGroupOptions): Promise<GroupDescription> {
  checkName(group, 'a group name');
  const named = options?.topics ?? [];
  if (!Array.isArray(named)) throw new HeraldError(CoreErrors.invalidOptions, 'kafka: describeGroup takes its topics as an array of topic names');
  for (const topic of named) checkName(topic, 'a topic name');
  try {
    const admin = await deps.admin();
    const [members, committed] = await Promise.all([liveMembers(deps, admin, group), committedOffsets(deps, admin, group)]);
    // a named topic is read only if it exists: the admin client never creates one, but ListOffsets on a missing topic fails
    let existing = named.length === 0 ? [] : await existingTopics(deps, admin);
    if (named.some((t) => !existing.includes(t))) existing = await existingTopics(deps, admin, { fresh: true });
    const topics = [...new Set([...committed.keys(), ...named.filter((t) => existing.includes(t))])].sort();
    const ranges = await topicRanges(admin, topics);
    const partitions = topics.flatMap((topic) => lagOf(topic, committed.get(topic) ?? new Map(), ranges.get(topic)!));
    return { group, members, partitions, totalLag: partitions.reduce((sum, p) => sum + p.lag, 0) };
  } catch (error) {
    throw toHeraldError(error, `describing group '${group}'`);
  }
}

/**
 * One entry per partition of `topic`: what the group has still to read is `end - max(committed,
 * start)`, as the port defines it. A commit below `start` points at records retention deleted: the
 * consumer's offset reset moves the group on (to `start` for a group subscribed at `earliest`, the
 * default; the inspector cannot tell how a group subscribed), so those records are not lag. A
 * commit beyond `end` (an offset set by hand) is no lag either, never a negative one.
 */
function lagOf(topic: string, committed: ReadonlyMap<number, number>, ranges: readonly PartitionRange[]): PartitionLag[] {
  return ranges.map(({ partition, start, end }) => {
    const at = committed.get(partition) ?? null;
    return { topic, partition, committed: at, end, lag: Math.max(0, end - Math.max(at ?? start, start)) };
  });
}

async function liveMembers(deps: InspectDeps, admin: Admin, group: string): Promise<number> {
  if (deps.support.describeGroups !== false) {
    try {
      const { groups } = await admin.describeGroups([group]);
      deps.support.describeGroups = true;
      return groups.find((g) => g.groupId === group)?.members.length ?? 0;
    } catch (error) {
      if (!isUnsupportedApi(error)) throw error;
      deps.support.describeGroups = false;
      deps.logger.warn('kafka: the broker cannot describe groups; member counts are the members this client runs');
    }
  }
  return deps.local.members(group);
}
