import { canBrowseDeadLetters, canInspect, hasOutboxBacklog, hasSagaCensus, SAGA_IN_FLIGHT_STATUSES } from '@herald/core';
import type { BrokerInspector, DeadLetterBrowser, DeadLetterStatus, OutboxBacklog, PartitionLag, SagaCensus, StartPosition } from '@herald/core';
import type { Gauge } from 'prom-client';
import type { MetricsApp } from '../options.js';
import type { GaugeCollectors, Instruments } from './instruments.js';
import { createDeadlineReads } from './readDeadlines.js';

/** The read side's sources, named as the `source` label of read errors. */
export type ReadSource = 'lag' | 'outbox' | 'dead_letters' | 'sagas';

/** Reads lag, outbox backlog, dead letters and saga instances in flight into gauges. */
export interface ReadSide {
  /** Whether the broker can be inspected (else lag comes from this process' facts). */
  readonly inspectsLag: boolean;
  /**
   * Reads every source the app's broker and stores can answer; a failing source keeps its last
   * values. Resolves with how long the slowest read that succeeded took (ms, on the app's clock;
   * 0 when none did): a read that failed says nothing of what reading costs.
   */
  poll(onError: (source: ReadSource, error: unknown) => void): Promise<number>;
  /**
   * Reports `saga` (at 0 until a read finds instances of it) when the stores can count sagas: a
   * saga this process runs is shown from its first transition, even if every instance ended
   * between two reads.
   */
  knowSaga(saga: string): void;
  /** Fill the age gauges (outbox, sagas) right before a scrape. */
  readonly collectors: GaugeCollectors;
  /** Drops the deadlines of reads in flight (closing: their timers must not keep the process up). */
  stop(): void;
}

const WAITING: readonly DeadLetterStatus[] = ['dead', 'parked'];
const NOTHING = () => {};

/** What each source reads, in the words of its timeout. */
const WHAT: Readonly<Record<ReadSource, string>> = { lag: "the consumer groups' offsets", outbox: 'the outbox backlog', dead_letters: 'the dead letters', sagas: 'the saga instances in flight' };

/**
 * Binds the read side of `app` (its abilities, found with the core's guards) to the gauges. Each
 * read is bounded by `readTimeoutMs` (see `createDeadlineReads`: a late read is waited for again,
 * given up on after a few deadlines, and its answer or error kept); a read shows its answer in one
 * synchronous pass once it ended, unless a newer read of its source ended first.
 */
export function createReadSide(app: MetricsApp, options: { readonly readTimeoutMs: number }): ReadSide & { bind(instruments: Instruments): void } {
  const inspector = canInspect(app.broker) ? (app.broker as BrokerInspector) : undefined;
  const backlog = hasOutboxBacklog(app.stores.outbox) ? (app.stores.outbox as OutboxBacklog) : undefined;
  const browser = canBrowseDeadLetters(app.stores.deadLetters) ? (app.stores.deadLetters as DeadLetterBrowser) : undefined;
  const census = app.stores.sagas && hasSagaCensus(app.stores.sagas) ? (app.stores.sagas as SagaCensus) : undefined;
  /** Per topic: records waiting and the append time of the oldest (0 when none). Known topics stay at 0. */
  const outbox = new Map<string, { pending: number; oldestCreatedAt: number }>();
  /** The app's topics (its events and its handlers', registered after the metrics too) are reported before anything waits. */
  const knowTopics = () => {
    for (const { topic } of app.events) if (!outbox.has(topic)) outbox.set(topic, { pending: 0, oldestCreatedAt: 0 });
  };
  /** Label sets of dead letters seen once: reported as 0 once resolved, so a drop is visible. */
  const seenLetters = new Map<string, Record<'group' | 'handler' | 'reason' | 'status', string>>();
  /**
   * Per saga seen once, per status in flight: instances and the first save of the oldest (0 when
   * none). A saga stays, at 0, once its instances ended, so the drop is visible.
   */
  const sagas = new Map<string, Map<string, { count: number; oldestCreatedAt: number }>>();
  let gauges: Instruments['gauges'] | undefined;
  // Each read resolves with what shows its answer, run in one synchronous pass (a scrape never
  // sees a half-updated picture) and only if no newer read of the source ended first.

  async function readLag(): Promise<() => void> {
    if (!inspector) return NOTHING;
    // the app's own groups only: the broker also knows other services' groups and groups nobody
    // runs any more (a requester's reply group of a past process), whose lag would grow forever.
    // Each is read on every partition of the topics its handlers take (which the app knows from
    // registration), so a partition the group never committed on is shown too, whether or not a
    // member in this process ever took it: a group whose members crash before joining, or that no
    // process runs yet, shows the records waiting for it.
    const subscriptions = app.subscriptions;
    const groups = await Promise.all(
      subscriptions.map(async ({ group, topics, start }) => ({ start, description: await inspector.describeGroup(group, { topics }) })),
    );
    return function showLag() {
      gauges!.lag.reset();
      gauges!.members.reset();
      for (const { start, description } of groups) {
        gauges!.members.set({ group: description.group }, description.members);
        for (const p of description.partitions) gauges!.lag.set({ group: description.group, topic: p.topic, partition: String(p.partition) }, lagOf(p, start));
      }
    };
  }

  async function readOutbox(): Promise<() => void> {
    if (!backlog) return NOTHING;
    const topics = await backlog.backlog();
    return function showOutbox() {
      knowTopics();
      for (const state of outbox.values()) state.pending = state.oldestCreatedAt = 0;
      for (const t of topics) outbox.set(t.topic, { pending: t.pending, oldestCreatedAt: t.oldestCreatedAt });
      for (const [topic, state] of outbox) gauges!.outboxPending.set({ topic }, state.pending);
    };
  }

  async function readDeadLetters(): Promise<() => void> {
    if (!browser) return NOTHING;
    const byStatus = await Promise.all(WAITING.map(async (status) => ({ status, groups: await browser.groups({ status }) })));
    return function showDeadLetters() {
      const counts = new Map<string, number>();
      for (const { status, groups } of byStatus) {
        for (const g of groups) {
          const labels = { group: g.group, handler: g.handler, reason: g.reason, status };
          const key = JSON.stringify(labels);
          seenLetters.set(key, labels);
          counts.set(key, (counts.get(key) ?? 0) + g.count);
        }
      }
      for (const [key, labels] of seenLetters) gauges!.deadLetters.set(labels, counts.get(key) ?? 0);
    };
  }

  /** The states of `saga`'s statuses, added at 0 the first time. */
  const sagaStates = (saga: string) => {
    let statuses = sagas.get(saga);
    if (!statuses) sagas.set(saga, (statuses = new Map(SAGA_IN_FLIGHT_STATUSES.map((status) => [status, { count: 0, oldestCreatedAt: 0 }]))));
    return statuses;
  };

  async function readSagas(): Promise<() => void> {
    if (!census) return NOTHING;
    const inFlight = await census.inFlight();
    return function showSagas() {
      for (const statuses of sagas.values()) for (const state of statuses.values()) state.count = state.oldestCreatedAt = 0;
      for (const { saga, status, count, oldestCreatedAt } of inFlight) sagaStates(saga).set(status, { count, oldestCreatedAt });
      for (const [saga, statuses] of sagas) for (const [status, state] of statuses) gauges!.sagasInFlight.set({ saga, status }, state.count);
    };
  }

  const reads = createDeadlineReads({ clock: app.clock, readTimeoutMs: options.readTimeoutMs, what: WHAT });

  /** The sources the app's broker and stores can answer. */
  const sources = ([
    ['lag', readLag, inspector],
    ['outbox', readOutbox, backlog],
    ['dead_letters', readDeadLetters, browser],
    ['sagas', readSagas, census],
  ] as const).filter(([, , ability]) => ability !== undefined);

  return {
    inspectsLag: inspector !== undefined,
    bind(instruments) {
      gauges = instruments.gauges;
      // at 0 from the start: the first failure is an increase Prometheus sees, not a series born at 1
      for (const [source] of sources) instruments.counters.pollErrors.series({ source });
      // without the backlog ability nothing is known about the outbox: no series rather than zeros
      if (!backlog) return;
      knowTopics();
      for (const [topic] of outbox) gauges.outboxPending.set({ topic }, 0);
    },
    async poll(onError) {
      const took = await Promise.all(
        sources.map(async ([source, read]) => {
          const started = app.clock.now();
          try {
            await reads.within(source, read);
            return app.clock.now() - started;
          } catch (error) {
            onError(source, error);
            return 0;
          }
        }),
      );
      return Math.max(0, ...took);
    },
    stop() {
      reads.stop();
    },
    knowSaga(saga) {
      if (!census || sagas.has(saga)) return;
      for (const [status, state] of sagaStates(saga)) gauges?.sagasInFlight.set({ saga, status }, state.count);
    },
    collectors: {
      outboxAge(gauge: Gauge<'topic'>) {
        const now = app.clock.now();
        for (const [topic, state] of outbox) gauge.set({ topic }, state.pending > 0 ? Math.max(0, now - state.oldestCreatedAt) / 1000 : 0);
      },
      sagaAge(gauge: Gauge<'saga' | 'status'>) {
        const now = app.clock.now();
        for (const [saga, statuses] of sagas) {
          for (const [status, state] of statuses) gauge.set({ saga, status }, state.count > 0 ? Math.max(0, now - state.oldestCreatedAt) / 1000 : 0);
        }
      },
    },
  };
}

/**
 * The records `p`'s group has still to read there. Where it committed (or the engine stored its
 * start when a member took the partition) that is the broker's figure. Where it never did, the
 * broker counts everything retained: exact for a group starting at `earliest`; a group starting at
 * `latest` will begin at the end it finds when it first takes the partition and read none of what
 * is there now, so it lags by 0 (counting the retained records would raise HeraldConsumerLagHigh
 * for records it will never read); for a timestamp start, what is retained is an upper bound, kept.
 */
function lagOf(p: PartitionLag, start: StartPosition): number {
  return p.committed === null && start === 'latest' ? 0 : p.lag;
}
