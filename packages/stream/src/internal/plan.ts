import { CoreErrors, HeraldError, type EventDefinition, type HandlerPolicy, type TopicSpec } from '@herald/core';
import type { AggregateNode, Node, SourceNode } from './graph.js';

/** One consumer group of a topology: what it reads and what runs on its records. */
export interface GroupPlan {
  readonly group: string;
  /** The definitions its batch handler is registered for (one per event type). */
  readonly definitions: readonly EventDefinition[];
  /** The sources each event type feeds. */
  readonly sourcesByType: ReadonlyMap<string, readonly SourceNode[]>;
  /** Its aggregations, upstream ones first (an aggregation may read another's results). */
  readonly aggregations: readonly AggregateNode[];
  /** Per aggregation, the topics whose partitions feed it. */
  readonly aggregationTopics: ReadonlyMap<AggregateNode, ReadonlySet<string>>;
}

/** A compiled topology. */
export interface TopologyPlan {
  readonly name: string;
  readonly idleTimeoutMs: number;
  readonly punctuateIntervalMs: number;
  readonly handler: HandlerPolicy<unknown> | undefined;
  readonly groups: readonly GroupPlan[];
  /** Repartition topics whose partition count was given. */
  readonly topics: readonly TopicSpec[];
  /** Every repartition topic's definition, by topic. */
  readonly repartitions: ReadonlyMap<string, EventDefinition>;
}

export interface CompileInput {
  readonly name: string;
  readonly sources: readonly SourceNode[];
  readonly idleTimeoutMs: number;
  readonly punctuateIntervalMs: number;
  readonly handler: HandlerPolicy<unknown> | undefined;
}

/**
 * Splits the graph at its repartition topics: the sources of the app's own events form the
 * group `<name>`, each repartition topic's source the group `<name>-<groupBy name>`. A node
 * reachable from two groups (a merge across a repartition) is refused, and so is a `groupBy`
 * whose records nothing reads.
 */
export function compileTopology(input: CompileInput): TopologyPlan {
  const { name } = input;
  const owner = new Map<Node, string>();
  const groups: GroupPlan[] = [];
  const main = input.sources.filter((s) => !s.repartition);
  if (main.length > 0) groups.push(groupOf(name, main, owner));
  const topics: TopicSpec[] = [];
  const repartitions = new Map<string, EventDefinition>();
  for (const source of input.sources) {
    const repartition = source.repartition;
    if (!repartition) continue;
    if (source.children.length === 0) throw invalid(`topology ${name}: groupBy ${repartition.name} is not windowed and aggregated`);
    const topic = repartition.definition.topic;
    repartitions.set(topic, repartition.definition);
    if (repartition.partitions !== undefined) topics.push({ name: topic, partitions: repartition.partitions });
    groups.push(groupOf(`${name}-${repartition.name}`, [source], owner));
  }
  return { name, idleTimeoutMs: input.idleTimeoutMs, punctuateIntervalMs: input.punctuateIntervalMs, handler: input.handler, groups, topics, repartitions };
}

function groupOf(group: string, sources: readonly SourceNode[], owner: Map<Node, string>): GroupPlan {
  const sourcesByType = new Map<string, SourceNode[]>();
  const definitions = new Map<string, EventDefinition>();
  const aggregationTopics = new Map<AggregateNode, Set<string>>();
  for (const source of sources) {
    const topics = new Set(source.definitions.map((d) => d.topic));
    for (const definition of source.definitions) {
      // the group's consumer reads one version of a type, as a handler does (earlier ones upcast)
      const other = definitions.get(definition.type);
      if (other && other !== definition) {
        throw invalid(
          `${group}: its sources read ${definition.type} in two definitions (versions ${other.version} and ${definition.version}); read the newest in every source: it reads earlier ones through its upcast`,
        );
      }
      definitions.set(definition.type, definition);
      const readers = sourcesByType.get(definition.type) ?? [];
      if (!readers.includes(source)) sourcesByType.set(definition.type, [...readers, source]);
    }
    visit(source, (node) => {
      const current = owner.get(node);
      if (current !== undefined && current !== group) {
        throw invalid(`${group}: a merge joins streams read by two consumer groups (${current} and ${group}); re-key both sides with the same groupBy first`);
      }
      owner.set(node, group);
      if (node.kind === 'aggregate') {
        const fed = aggregationTopics.get(node) ?? new Set<string>();
        topics.forEach((t) => fed.add(t));
        aggregationTopics.set(node, fed);
      }
    });
  }
  // nodes are numbered as they are attached, after their parents: id order is a topological order
  const aggregations = [...aggregationTopics.keys()].sort((a, b) => a.id - b.id);
  return { group, definitions: [...definitions.values()], sourcesByType, aggregations, aggregationTopics };
}

/** Calls `onNode` for every node downstream of `from` (itself included) within its group, each once. */
function visit(from: Node, onNode: (node: Node) => void): void {
  const seen = new Set<Node>();
  const stack: Node[] = [from];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    onNode(node);
    // a repartition node ends its group: its records continue in the repartition topic's group
    stack.push(...node.children);
  }
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
