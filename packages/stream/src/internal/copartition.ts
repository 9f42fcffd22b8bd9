import { CoreErrors, HeraldError, canInspect, type App, type HandlerService } from '@herald/core';
import type { TopologyPlan } from './plan.js';

/**
 * The topics that must be co-partitioned: for each aggregation that reads more than one topic
 * (several definitions in `from()`, or a `merge`), those topics. An aggregation keeps stream time
 * and window state per partition number, so the topics feeding it must place a key in the same
 * partition number: the same partition count (Kafka Streams' co-partitioning requirement).
 */
export function coPartitionedSets(plan: TopologyPlan): { readonly aggregation: string; readonly topics: readonly string[] }[] {
  const sets: { aggregation: string; topics: string[] }[] = [];
  for (const group of plan.groups) {
    for (const [node, topics] of group.aggregationTopics) {
      if (topics.size > 1) sets.push({ aggregation: node.name, topics: [...topics].sort() });
    }
  }
  return sets;
}

/**
 * Refuses, with `invalid-options`, a topology one of whose aggregations reads topics with
 * different partition counts: a key's records would land in different partition numbers, each
 * with its own window state and stream time, and one window would give several partial "final"
 * results. `partitionsOf` gives a topic's count, or undefined when it is not known (a topic not
 * created yet). Returns the topics whose count was not known, so the caller can say so.
 */
export function checkCoPartitioning(plan: TopologyPlan, partitionsOf: (topic: string) => number | undefined): string[] {
  const problems: string[] = [];
  const unknown = new Set<string>();
  for (const { aggregation, topics } of coPartitionedSets(plan)) {
    const known = topics.flatMap((topic) => {
      const count = partitionsOf(topic);
      if (count === undefined) unknown.add(topic);
      return count === undefined ? [] : [{ topic, count }];
    });
    if (new Set(known.map((k) => k.count)).size > 1) {
      problems.push(`aggregation ${aggregation} reads topics with different partition counts (${known.map((k) => `${k.topic}: ${k.count}`).join(', ')})`);
    }
  }
  if (problems.length > 0) {
    throw new HeraldError(
      CoreErrors.invalidOptions,
      `topology ${plan.name}: ${problems.join('; ')}. A key's records would land in different partition numbers, each with its own windows and stream time, so one window would give several partial results. Give those topics one partition count (they must be co-partitioned, as in Kafka Streams), or re-key the records through a groupBy (one repartition topic)`,
    );
  }
  return [...unknown].sort();
}

/**
 * Checks co-partitioning when the app starts, against the broker's view of the topics (the app's
 * declared `topics` are provisioned before any component starts, so their counts are there): a
 * mismatch fails the start with `invalid-options` before the topology's consumer groups read
 * anything (a {@link HandlerService}: the consumer groups start after it). A topic the
 * broker does not have yet (it is created on first use, with the broker's default count), or a
 * broker that cannot be inspected, cannot be checked: that is logged.
 */
export function coPartitioningCheck<Tx>(app: App<Tx>, plan: TopologyPlan): HandlerService {
  const logger = app.logger.child({ component: `stream:${plan.name}` });
  return {
    name: `stream:${plan.name}:co-partitioning`,
    servesHandlers: true,
    async start() {
      const topics = [...new Set(coPartitionedSets(plan).flatMap((set) => set.topics))];
      if (topics.length === 0) return;
      const { broker } = app;
      if (!canInspect(broker)) {
        logger.warn('stream: the broker cannot describe topics, so co-partitioning is not checked; give the topics one aggregation reads one partition count', { topics });
        return;
      }
      const counts = new Map((await broker.describeTopics(topics)).map((t) => [t.name, t.partitions.length]));
      const unknown = checkCoPartitioning(plan, (topic) => counts.get(topic));
      if (unknown.length > 0) {
        logger.warn('stream: topics not created yet; their co-partitioning is not checked (declare them in the app\'s topics)', { topics: unknown });
      }
    },
    async close() {},
  };
}
