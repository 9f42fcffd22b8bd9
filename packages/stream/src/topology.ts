import type { Static, TSchema } from '@sinclair/typebox';
import { MAX_TIMER_MS, type App, type EventDefinition, type HandlerPolicy, type TopicSpec } from '@herald/core';
import { checkEventTime, occurredAt } from './internal/eventTime.js';
import type { AggregateNode, Node, RepartitionNode, SourceNode } from './internal/graph.js';
import { installTopology } from './internal/install.js';
import { compileTopology, type TopologyPlan } from './internal/plan.js';
import { registerPlan } from './internal/plans.js';
import { readRepartitioned, repartitionDefinition } from './internal/repartition.js';
import { checkLate, checkName, fn, invalid, wholeMs } from './topologyChecks.js';
import type { AggregateOptions, CountOptions, FromOptions, StreamContext, StreamRecord, WindowResult } from './types.js';
import type { Windows } from './windows.js';

/** Options of {@link createTopology}. */
export interface TopologyOptions<Tx> {
  /**
   * Names the topology's consumer groups (`<name>` reads the source topics, `<name>-<groupBy name>`
   * each repartition topic), its repartition topics (`<name>-<groupBy name>-repartition`) and its
   * aggregations' window state (`<name>.<aggregation>`). Letters, digits, `.`, `_`, `-`.
   */
  readonly name: string;
  /**
   * A partition that received no record for this long (wall clock) is idle: its stream time then
   * moves on with the wall clock, from the time of its last record, so its windows still close.
   * This is a guess that nothing more is coming: records delayed upstream for longer than this
   * plus the grace (a producer's outbox relay stalled, a broker outage) then arrive late. Set it
   * above the longest delay you accept, or `false` so that only records move stream time (Kafka
   * Streams' behaviour: a quiet partition's last windows wait for its next record). Default 30 000.
   */
  readonly idleTimeoutMs?: number | false;
  /** How often idle partitions are looked for. Default 1 000. */
  readonly punctuateIntervalMs?: number;
  /** Retry, timeout and dead-letter settings of the topology's handlers (see `HandlerPolicy`). */
  readonly handler?: HandlerPolicy<Tx>;
}

/** Defaults of {@link TopologyOptions}, in one place. */
export const TOPOLOGY_DEFAULTS = { idleTimeoutMs: 30_000, punctuateIntervalMs: 1_000 } as const;

/** A stream of records: stateless steps, re-keying, sinks. Each step returns a new stream; a stream may feed several steps (branches). */
export interface Stream<V, Tx = unknown> {
  /** Keeps the records `predicate` accepts. */
  filter(predicate: (record: StreamRecord<V>) => boolean): Stream<V, Tx>;
  /** Replaces each record's value (key and event time stay). */
  map<W>(mapper: (record: StreamRecord<V>) => W): Stream<W, Tx>;
  /** This stream and `others` as one (records keep their keys; all must be read by the same part of the topology). */
  merge(...others: Stream<V, Tx>[]): Stream<V, Tx>;
  /** Groups by the current key (no repartitioning: records of a key are already in one partition). */
  groupByKey(): GroupedStream<V, Tx>;
  /**
   * Groups by a new key: each record is published, re-keyed, to the repartition topic
   * `<topology>-<name>-repartition` in the batch's transaction, and read back by the consumer
   * group `<topology>-<name>`, so each new key's records meet in one partition. The value must be
   * a JSON value. `partitions`: the repartition topic's partition count (see `Topology.topics`).
   */
  groupBy(keyOf: (record: StreamRecord<V>) => string, options: { readonly name: string; readonly partitions?: number }): GroupedStream<V, Tx>;
  /**
   * Publishes each record as an event of `definition` (through the outbox, in the batch's
   * transaction), with the record's event time as `occurredAt`; the key comes from the
   * definition. Without `map` the value is the event's data.
   */
  to<S extends TSchema>(definition: EventDefinition<S>, ...map: V extends Static<S> ? [map?: (record: StreamRecord<V>) => Static<S>] : [map: (record: StreamRecord<V>) => Static<S>]): void;
  /** Runs `handler` for each record, in the batch's transaction (`ctx.tx`, `ctx.publish`). */
  forEach(handler: (record: StreamRecord<V>, ctx: StreamContext<Tx>) => Promise<void>): void;
}

/** Records grouped by key, ready to be windowed. */
export interface GroupedStream<V, Tx = unknown> {
  windowedBy(windows: Windows): WindowedStream<V, Tx>;
}

/** A grouped stream with its windows: aggregate it. */
export interface WindowedStream<V, Tx = unknown> {
  /**
   * Aggregates each key's records per window, on event time, into state kept in the stores'
   * window state (`<topology>.<name>`), and emits results as the `emit` option says. Aggregates
   * must be JSON values.
   */
  aggregate<A>(name: string, options: AggregateOptions<V, A, Tx>): Stream<WindowResult<A>, Tx>;
  /** Counts each key's records per window. */
  count(name: string, options: CountOptions<V, Tx>): Stream<WindowResult<number>, Tx>;
}

/** A stream topology: built with `from()`, then installed on an app. */
export interface Topology<Tx = unknown> {
  readonly name: string;
  /** A stream of the events of one or more definitions (their data as values, their keys as keys). */
  from<S extends TSchema>(definition: EventDefinition<S> | readonly EventDefinition<S>[], options?: FromOptions<S>): Stream<Static<S>, Tx>;
  /** The repartition topics, to provision with the app's `topics` option. */
  readonly topics: readonly TopicSpec[];
  /** The consumer groups `install` registers (set their runtime options with the app's `groups`). */
  readonly groups: readonly string[];
  /**
   * Registers the topology on `app` before `start()`: one batch handler per consumer group (so
   * the inbox, retries and dead letters apply) and, when it aggregates, a component that closes
   * idle partitions' windows. A topology is installed on one app; once installed it cannot grow.
   * Refused with `invalid-options` when its window state (`<name>.<aggregation>`), a consumer
   * group or a repartition topic is already another installed topology's on the app (one name
   * used twice; `a` + `b.x` and `a.b` + `x`): the two would count in each other's windows.
   * When an aggregation reads several topics, the app's `start()` first checks, against the
   * broker's topics (after the app's `topics` are provisioned), that they have one partition
   * count, and fails with `invalid-options` naming them otherwise.
   */
  install(app: App<Tx>): void;
}

/**
 * Creates a stream topology.
 *
 * @example
 * const topology = createTopology<SqlTx>({ name: 'analytics' });
 * topology
 *   .from(PageViewed, { timestamp: (e) => Date.parse(e.data.at) })
 *   .groupBy((r) => r.value.path, { name: 'by-path', partitions: 3 })
 *   .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
 *   .count('views-1m', { late: { to: LateViews } })
 *   .to(PathViews, (r) => ({ path: r.key, start: r.value.start, views: r.value.value }));
 * const app = createApp({ ...engine, topics: [...topology.topics] });
 * topology.install(app);
 */
export function createTopology<Tx = unknown>(options: TopologyOptions<Tx>): Topology<Tx> {
  const name = checkName('createTopology: name', options?.name);
  // false: never idle (no punctuator runs)
  const idleTimeoutMs = options.idleTimeoutMs === false ? Infinity : wholeMs('idleTimeoutMs', options.idleTimeoutMs ?? TOPOLOGY_DEFAULTS.idleTimeoutMs, Number.MAX_SAFE_INTEGER);
  // a timer's delay: a longer one fires at once in Node, a fraction of a ms as often as timers can
  const punctuateIntervalMs = wholeMs('punctuateIntervalMs', options.punctuateIntervalMs ?? TOPOLOGY_DEFAULTS.punctuateIntervalMs, MAX_TIMER_MS);
  const sources: SourceNode[] = [];
  const used = new Set<string>();
  let nextId = 0;
  let frozen = false;
  let compiled: TopologyPlan | undefined;

  function attach<N extends Node>(parents: readonly Node[], node: N): N {
    if (frozen) throw invalid(`topology ${name} is installed: build it completely before install()`);
    compiled = undefined;
    for (const parent of parents) parent.children.push(node);
    return node;
  }

  function claim(kind: string, what: string): string {
    const checked = checkName(`${kind} name`, what);
    if (used.has(checked)) throw invalid(`topology ${name}: the name "${checked}" is already used by a groupBy or an aggregation`);
    used.add(checked);
    return checked;
  }

  function stream<V>(node: Node): Stream<V, Tx> {
    return {
      filter: (predicate) => stream(attach([node], { kind: 'filter', id: nextId++, children: [], predicate: fn('filter', predicate) as (r: StreamRecord<unknown>) => boolean })),
      map: (mapper) => stream(attach([node], { kind: 'map', id: nextId++, children: [], mapper: fn('map', mapper) as (r: StreamRecord<unknown>) => unknown })),
      merge: (...others) => {
        const parents = [node, ...others.map((other) => nodeOf(other))];
        return stream(attach(parents, { kind: 'merge', id: nextId++, children: [] }));
      },
      groupByKey: () => grouped<V>(node),
      groupBy(keyOf, groupOptions) {
        const repartitionName = claim('groupBy', groupOptions?.name);
        const partitions = groupOptions.partitions;
        if (partitions !== undefined && !(Number.isInteger(partitions) && partitions > 0)) throw invalid(`groupBy ${repartitionName}: partitions must be a positive integer`);
        const topic = `${name}-${repartitionName}-repartition`;
        const definition = repartitionDefinition(topic);
        const source: { -readonly [K in keyof SourceNode]: SourceNode[K] } = { kind: 'source', id: nextId++, children: [], definitions: [definition], read: readRepartitioned };
        source.repartition = attach([node], {
          kind: 'repartition',
          id: nextId++,
          children: [],
          name: repartitionName,
          keyOf: fn('groupBy', keyOf) as (r: StreamRecord<unknown>) => string,
          definition,
          partitions,
          source,
        } satisfies RepartitionNode);
        sources.push(source);
        return grouped<V>(source);
      },
      to(definition, ...map) {
        if (!definition || typeof definition.parse !== 'function') throw invalid('to(): give an event definition');
        const mapper = map[0] === undefined ? undefined : (fn('to', map[0]) as (r: StreamRecord<unknown>) => unknown);
        attach([node], { kind: 'sink', id: nextId++, children: [], definition: definition as EventDefinition, map: mapper });
      },
      forEach(handler) {
        attach([node], { kind: 'forEach', id: nextId++, children: [], handler: fn('forEach', handler) as never });
      },
      [NODE]: node,
    } as Stream<V, Tx> & { [NODE]: Node };
  }

  function grouped<V>(node: Node): GroupedStream<V, Tx> {
    return {
      windowedBy(windows) {
        if (windows?.kind !== 'time' && windows?.kind !== 'session') throw invalid('windowedBy(): give TimeWindows.ofSizeAndGrace(...) or SessionWindows.ofInactivityGapAndGrace(...)');
        return windowed<V>(node, windows);
      },
    };
  }

  function windowed<V>(node: Node, windows: Windows): WindowedStream<V, Tx> {
    const aggregate = <A>(aggregationName: string, o: AggregateOptions<V, A, Tx>): Stream<WindowResult<A>, Tx> => {
      const checked = claim('aggregation', aggregationName);
      if (typeof o?.initial !== 'function' || typeof o.add !== 'function') throw invalid(`aggregate ${checked}: initial() and add() are required`);
      if (windows.kind === 'session' && typeof o.merge !== 'function') throw invalid(`aggregate ${checked}: session windows need merge(left, right) to combine sessions a record bridges`);
      if (o.emit !== undefined && o.emit !== 'final' && o.emit !== 'update') throw invalid(`aggregate ${checked}: emit must be 'final' or 'update'`);
      checkLate(checked, o.late);
      const node2: AggregateNode = {
        kind: 'aggregate',
        id: nextId++,
        children: [],
        name: checked,
        store: `${name}.${checked}`,
        windows,
        initial: o.initial,
        add: o.add as AggregateNode['add'],
        merge: o.merge as AggregateNode['merge'],
        emit: o.emit ?? 'final',
        late: o.late as AggregateNode['late'],
      };
      return stream(attach([node], node2));
    };
    return {
      aggregate,
      count: (countName, o) => aggregate<number>(countName, { initial: () => 0, add: (n) => n + 1, merge: (a, b) => a + b, emit: o?.emit, late: o?.late } as AggregateOptions<V, number, Tx>),
    };
  }

  const topology: Topology<Tx> = {
    name,
    from(definitionOrList, fromOptions = {}) {
      const definitions = (Array.isArray(definitionOrList) ? definitionOrList : [definitionOrList]) as readonly EventDefinition[];
      if (definitions.length === 0 || definitions.some((d) => !d || typeof d.parse !== 'function')) throw invalid('from(): give one or more event definitions');
      const timestamp = fromOptions.timestamp ? fn('from: timestamp', fromOptions.timestamp) : undefined;
      const { maxFutureSkewMs } = fromOptions;
      if (maxFutureSkewMs !== undefined && !(Number.isSafeInteger(maxFutureSkewMs) && maxFutureSkewMs >= 0)) {
        throw invalid(`from(): maxFutureSkewMs must be an integer >= 0 (ms), got ${String(maxFutureSkewMs)}`);
      }
      const source = attach([], {
        kind: 'source',
        id: nextId++,
        children: [],
        definitions,
        read: (event, now) => ({
          key: event.key,
          value: event.data,
          timestamp: checkEventTime(timestamp ? timestamp(event as never) : occurredAt(event), event, maxFutureSkewMs === undefined ? undefined : { now, maxFutureSkewMs }),
        }),
      } satisfies SourceNode);
      sources.push(source);
      return stream(source);
    },
    get topics() {
      return plan().topics;
    },
    get groups() {
      return plan().groups.map((g) => g.group);
    },
    install(app) {
      const compiledPlan = plan();
      frozen = true;
      installTopology(app, compiledPlan);
    },
  };
  function plan(): TopologyPlan {
    compiled ??= compileTopology({ name, sources, idleTimeoutMs, punctuateIntervalMs, handler: options.handler as HandlerPolicy<unknown> | undefined });
    return compiled;
  }
  registerPlan(topology, plan);
  return topology;
}

const NODE = Symbol('herald.stream.node');

function nodeOf(stream: unknown): Node {
  const node = (stream as { [NODE]?: Node } | undefined)?.[NODE];
  if (!node) throw invalid('merge(): give streams of the same topology');
  return node;
}
