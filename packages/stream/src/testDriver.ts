import { deepStrictEqual } from 'node:assert/strict';
import type { Static, TSchema } from '@sinclair/typebox';
import {
  CoreErrors,
  HeraldError,
  createManualClock,
  markAllHandled,
  partitionForKey,
  readEvent,
  silentLogger,
  uuidv7,
  type Envelope,
  type EventDefinition,
  type ManualClock,
  type Publish,
  type PublishOptions,
  type Stores,
  type WindowSnapshot,
  type WindowStores,
} from '@herald/core';
import { createActivity } from './internal/activity.js';
import { checkCoPartitioning } from './internal/copartition.js';
import { idleSets, lastRecords, noteRecord, notedTopics, punctuateIdle, recentRecord, type IdleTimes } from './internal/idleClock.js';
import type { GroupPlan } from './internal/plan.js';
import { planOf } from './internal/plans.js';
import { runBatch } from './internal/run.js';
import type { Topology } from './topology.js';
import type { LateRecord } from './types.js';

/** Options of {@link streamTest}. */
export interface StreamTestOptions<Tx> {
  /** Stores with window state: `memoryStores()` from `@herald/testing`, or real ones (`sqliteStores`). */
  readonly stores: Stores<Tx> & WindowStores<Tx>;
  /** Partitions of the topics the topology reads (its sources and its repartition topics): one count for all, or per topic. Default 1. */
  readonly partitions?: number | Readonly<Record<string, number>>;
  /** Where the manual wall clock starts, ms. Default 0. */
  readonly clockStartMs?: number;
}

/** How events are fed in. */
export interface FeedOptions<S extends TSchema> {
  /** Each event's `occurredAt`, ms (the default event time): one value, or one per event. Default: the clock's now. */
  readonly at?: number | ((data: Static<S>, index: number) => number);
  /** Each event in a batch of its own, instead of one batch per partition. Default false. */
  readonly oneByOne?: boolean;
}

/**
 * A topology run in memory, without a broker: events are fed straight to its groups' handlers
 * (one transaction per batch, with inbox marks, as the pipeline does), repartitioned records
 * are passed on until none is left, idle partitions are punctuated when the manual clock moves.
 * given/when/then: `given` feeds history, `when` the events under test, and each `then`
 * asserts (with node:assert, so in any test runner) on what the last step published.
 *
 * @example
 * const t = streamTest(topology, { stores: memoryStores() });
 * await t.given(Click, [click('u-1', 1_000)]);
 * await t.when(Click, [click('u-1', 61_000)]);
 * t.thenPublished(ClickCounts, [{ userId: 'u-1', start: 0, clicks: 1 }]);
 */
export interface StreamTest {
  readonly clock: ManualClock;
  /** Feeds events as history: what they publish is not asserted on. */
  given<S extends TSchema>(definition: EventDefinition<S>, items: readonly Static<S>[], options?: FeedOptions<S>): Promise<void>;
  /** Lets the wall clock run for `ms` (idle partitions are punctuated), as history. */
  givenIdleFor(ms: number): Promise<void>;
  /** Feeds the events under test. */
  when<S extends TSchema>(definition: EventDefinition<S>, items: readonly Static<S>[], options?: FeedOptions<S>): Promise<void>;
  /** Lets the wall clock run for `ms`, then punctuates idle partitions: the step under test. */
  whenIdleFor(ms: number): Promise<void>;
  /** Asserts that the last step published exactly `expected` as events of `definition`, in this order. */
  thenPublished<S extends TSchema>(definition: EventDefinition<S>, expected: readonly Static<S>[]): void;
  /** Asserts that the last step sent exactly these late records to side outputs (only the fields given are compared). */
  thenLate(expected: readonly Partial<LateRecord<unknown>>[]): void;
  /** Asserts that the last step published nothing and had no late record. */
  thenNothing(): void;
  /** What the last step published as events of `definition`. */
  published<S extends TSchema>(definition: EventDefinition<S>): Static<S>[];
  /** The late records of the last step. */
  late(): LateRecord<unknown>[];
  /** The committed window state of one aggregation (by its name in the topology). */
  windows(aggregation: string): Promise<WindowSnapshot>;
}

interface Queued {
  readonly group: GroupPlan;
  readonly partition: number;
  readonly event: Envelope;
}

/** Events of one topic's partition, handled together. */
interface Batch {
  readonly group: GroupPlan;
  readonly topic: string;
  readonly partition: number;
  readonly events: Envelope[];
}

/** The handlers' signal here: the driver runs them with no deadline, so it never aborts. */
const NO_DEADLINE = new AbortController().signal;

/**
 * Runs `topology` in a test (see {@link StreamTest}). Refuses with `invalid-options`, as an app's
 * start does, `partitions` that give the topics of one aggregation different counts.
 */
export function streamTest<Tx>(topology: Topology<Tx>, options: StreamTestOptions<Tx>): StreamTest {
  const plan = planOf(topology);
  const { stores } = options;
  const clock = createManualClock(options.clockStartMs ?? 0);
  const activity = createActivity(clock, plan.idleTimeoutMs);
  const byType = new Map<string, GroupPlan>();
  for (const group of plan.groups) for (const definition of group.definitions) byType.set(definition.type, group);
  const sets = plan.groups.flatMap((group) => idleSets(group).map((set) => ({ group, set })));
  const noted = new Map(plan.groups.map((group) => [group, notedTopics(group, plan.idleTimeoutMs)]));
  let published: Envelope[] = [];
  let late: LateRecord<unknown>[] = [];

  const partitionsOf = (topic: string): number => {
    const p = options.partitions;
    return typeof p === 'number' ? p : (p?.[topic] ?? 1);
  };
  // as install's check at start: an aggregation's topics must have one partition count
  checkCoPartitioning(plan, partitionsOf);

  function envelope(definition: EventDefinition, data: unknown, publishOptions: PublishOptions): Envelope {
    const valid = definition.parse(data);
    const id = publishOptions.id ?? uuidv7(clock.now());
    const cause = publishOptions.cause;
    return {
      id,
      type: definition.type,
      version: definition.version,
      topic: definition.topic,
      key: publishOptions.key ?? definition.key(valid),
      correlationId: publishOptions.correlationId ?? cause?.correlationId ?? id,
      causationId: cause?.id ?? null,
      occurredAt: (publishOptions.occurredAt ?? new Date(clock.now())).toISOString(),
      headers: { ...publishOptions.headers },
      data: valid,
    };
  }

  /** A `publish` collecting into `out` (kept only if the transaction commits). */
  function collector(out: Envelope[]): Publish {
    const publish = (async (definition: EventDefinition, data: unknown, o: PublishOptions = {}) => {
      const e = envelope(definition, data, o);
      out.push(e);
      return e;
    }) as Publish;
    publish.many = (async (definition: EventDefinition, items: readonly unknown[], o = {}) => Promise.all(items.map((data) => publish(definition, data as never, o)))) as Publish['many'];
    return publish;
  }

  function route(event: Envelope): Queued {
    const group = byType.get(event.type);
    if (!group) throw new HeraldError(CoreErrors.invalidOptions, `streamTest: ${event.type} is not read by topology ${plan.name}`);
    // as the app's consumer reads it: an earlier version upcast, one it does not read refused (a dead letter there)
    const read = readEvent(group.definitions.find((d) => d.type === event.type)!, event);
    return { group, partition: partitionForKey(event.key, partitionsOf(event.topic)), event: read };
  }

  /** One batch in one transaction; what it publishes to repartition topics comes back as work. */
  async function handle(batch: Batch): Promise<Queued[]> {
    const { group, topic, partition, events } = batch;
    const out: Envelope[] = [];
    // the driver is the group's only member: it holds every partition it feeds, so they go idle here
    const scopes = sets.filter((s) => s.group === group && s.set.topics.includes(topic)).map((s) => s.set.scope);
    for (const scope of scopes) {
      activity.assigned(scope, [{ topic, partition }]);
      activity.begin(scope, partition);
    }
    try {
      await stores.transaction(async (tx) => {
        out.length = 0;
        const fresh = await markAllHandled(stores.inbox, tx, events.map((e) => ({ group: group.group, eventId: e.id, handledAt: clock.now() })));
        const todo = events.filter((e) => fresh.has(e.id));
        if (todo.length === 0) return;
        // as install's batches: the record time every member's punctuation reads
        if (noted.get(group)!.has(topic)) await noteRecord({ windows: stores.windows as never, tx, group: group.group, topic, partition }, clock.now());
        await runBatch(group, context(group, partition, tx, out), todo);
      });
    } finally {
      for (const scope of scopes) activity.end(scope, partition);
    }
    return settle(out);
  }

  function context(group: GroupPlan, partition: number, tx: Tx, out: Envelope[]) {
    return { tx, publish: collector(out), logger: silentLogger, signal: NO_DEADLINE, group: group.group, partition, clock, windows: stores.windows as never, onLate: (record: LateRecord<unknown>) => late.push(record) };
  }

  function settle(out: readonly Envelope[]): Queued[] {
    const next: Queued[] = [];
    for (const e of out) {
      if (plan.repartitions.has(e.topic)) next.push(route(e));
      else published.push(e);
    }
    return next;
  }

  /** Handles queued events, a batch per (group, topic, partition) in arrival order, as a consumer reads them, until nothing is left. */
  async function drain(queue: Queued[], oneByOne: boolean): Promise<void> {
    while (queue.length > 0) {
      const batches = new Map<string, Batch>();
      for (const item of queue.splice(0)) {
        const id = `${item.group.group}\u0000${item.event.topic}\u0000${item.partition}`;
        const batch = batches.get(id) ?? { group: item.group, topic: item.event.topic, partition: item.partition, events: [] };
        batch.events.push(item.event);
        batches.set(id, batch);
      }
      for (const batch of batches.values()) {
        const slices = oneByOne ? batch.events.map((e) => [e]) : [batch.events];
        for (const slice of slices) queue.push(...(await handle({ ...batch, events: slice })));
      }
    }
  }

  async function feed<S extends TSchema>(definition: EventDefinition<S>, items: readonly Static<S>[], o: FeedOptions<S> = {}): Promise<void> {
    step();
    const at = (data: Static<S>, i: number) => (typeof o.at === 'function' ? o.at(data, i) : (o.at ?? clock.now()));
    await drain(items.map((data, i) => route(envelope(definition, data, { occurredAt: new Date(at(data, i)) }))), o.oneByOne ?? false);
  }

  async function idleFor(ms: number): Promise<void> {
    step();
    await clock.advance(ms);
    const now = clock.now();
    const queue: Queued[] = [];
    // as the punctuator's tick
    for (const { group, set } of sets) {
      const idle = activity.idle(set.scope, now);
      if (idle.length === 0) continue;
      const last = set.shared ? await lastRecords(stores.windows as never, set) : undefined;
      for (const partition of idle) {
        const times: IdleTimes = { now, idleTimeoutMs: plan.idleTimeoutMs, since: activity.since(set.scope, partition), lastRecord: last?.get(partition) };
        if (recentRecord(times)) continue;
        const out: Envelope[] = [];
        await stores.transaction(async (tx) => {
          out.length = 0;
          await punctuateIdle(set, group, context(group, partition, tx, out), times, activity);
        });
        queue.push(...settle(out));
      }
    }
    await drain(queue, false);
  }

  function step(): void {
    published = [];
    late = [];
  }

  const dataOf = (definition: EventDefinition) => published.filter((e) => e.type === definition.type && e.version === definition.version).map((e) => e.data);

  return {
    clock,
    given: feed,
    givenIdleFor: idleFor,
    when: feed,
    whenIdleFor: idleFor,
    thenPublished(definition, expected) {
      deepStrictEqual(dataOf(definition), [...expected], `published ${definition.type} events`);
    },
    thenLate(expected) {
      const actual = late.map((record, i) => (expected[i] ? pick(record, Object.keys(expected[i]!)) : record));
      deepStrictEqual(actual, [...expected], 'late records');
    },
    thenNothing() {
      deepStrictEqual(
        { published: published.map((e) => ({ type: e.type, data: e.data })), late },
        { published: [], late: [] },
        'nothing published and no late record',
      );
    },
    published: (definition) => dataOf(definition) as never,
    late: () => [...late],
    windows: (aggregation) => stores.windows.read(`${plan.name}.${aggregation}`),
  };
}

function pick(record: LateRecord<unknown>, keys: readonly string[]): Partial<LateRecord<unknown>> {
  const picked: Record<string, unknown> = {};
  for (const key of keys) picked[key] = (record as unknown as Record<string, unknown>)[key];
  return picked as Partial<LateRecord<unknown>>;
}
