import { Type } from '@sinclair/typebox';
import { createApp, createRelay, defineEvent, silentLogger, type App, type AppOptions, type Broker, type GroupOptions, type OutboxStore, type Publish, type RelayOptions, type SqlTx, type Stores } from '@herald/core';
import type { CpuSeconds } from './cpu.js';

const BenchData = Type.Object({
  key: Type.String(),
  seq: Type.Integer(),
  sentAt: Type.Number(),
  payload: Type.String(),
});

/** The benchmark's one event: ~200 bytes of payload, keyed by one of `keys` keys. */
export const BenchEvent = defineEvent({ type: 'BenchEvent', topic: 'bench', key: (d) => d.key, schema: BenchData });

/**
 * The benchmark event spread over `count` topics (key index modulo `count` picks the topic), for
 * brokers whose topics cannot have enough partitions (the Kafka mock: 4 each). One topic is the
 * plain {@link BenchEvent}.
 */
export function benchEvents(count: number): (typeof BenchEvent)[] {
  if (count === 1) return [BenchEvent];
  return Array.from({ length: count }, (_, i) => defineEvent({ type: `BenchEvent.${i}`, topic: `bench-${i}`, key: (d) => d.key, schema: BenchData }));
}

export interface Engine {
  readonly name: string;
  readonly broker: Broker;
  readonly stores: Stores<SqlTx>;
  /**
   * When given, the relay claims and marks through this outbox handle (its own connections) instead
   * of `stores.outbox`, as a relay deployed apart from the application would; it still wakes on
   * `stores`' appends.
   */
  readonly relayOutbox?: OutboxStore<SqlTx>;
  /** How this engine is tuned for the workload; absent fields take the embedded engine's values. */
  readonly tuning?: WorkloadTuning;
  /** Observability around the app (`embedded+tracing`): its options, and the producers' publish. */
  readonly instrument?: {
    app(options: AppOptions<SqlTx>): AppOptions<SqlTx>;
    publish(publish: Publish): Publish;
  };
  /** CPU used so far by this process and the servers the engine started (for bench/profile.ts). */
  cpuSeconds?(): CpuSeconds;
  /** Releases whatever the engine started (servers, files); after the app closed broker and stores. */
  cleanup(): Promise<void>;
}

/** What a deployment of an engine tunes; the same events and handler whatever the values. */
export interface WorkloadTuning {
  /** Topics the keys are spread over (see {@link benchEvents}). Default 1. */
  readonly topics?: number;
  /** Partitions declared per topic. Default 8. */
  readonly partitions?: number;
  readonly group?: GroupOptions<SqlTx>;
  readonly relay?: RelayOptions;
  /** Application transactions per store transaction (`AppOptions.transactionBatch`). Default 1. */
  readonly transactionBatch?: number;
}

/** The embedded engine's settings, the defaults of every other engine. */
export const DEFAULT_TUNING = {
  topics: 1,
  partitions: 8,
  group: { concurrency: 64, maxInFlight: 5000, commitIntervalMs: 100 },
  relay: { batchSize: 2000, idleMs: 5 },
} as const;

export interface WorkloadResult {
  readonly events: number;
  readonly elapsedMs: number;
  readonly latenciesMs: number[];
}

export const PAYLOAD = 'x'.repeat(150); // with key, seq and sentAt the data is ~200 bytes

/** Milliseconds with sub-millisecond precision on a clock shared by producer and consumer in this process. */
export const nowMs = () => performance.timeOrigin + performance.now();

/** One measured run: `events` over `keys` keys, flat out (`concurrency` sends in flight) or at `ratePerSec`. */
export interface WorkloadOptions {
  readonly events: number;
  readonly keys: number;
  readonly ratePerSec?: number;
  readonly concurrency?: number;
}

/**
 * Runs the full reliable pipeline once: application transactions (an order row plus an outbox
 * event), the relay, the log, and a consumer group whose handler writes an effect row in the inbox
 * transaction. Sends `events` events over `keys` keys, either as fast as possible (`ratePerSec`
 * undefined, `concurrency` transactions in flight) or at a fixed rate, and measures each event from
 * the start of its producing transaction to the commit of its effect.
 */
export async function runWorkload(engine: Engine, options: WorkloadOptions): Promise<WorkloadResult> {
  const tuning = engine.tuning ?? {};
  const events = benchEvents(tuning.topics ?? DEFAULT_TUNING.topics);
  const appOptions: AppOptions<SqlTx> = {
    name: 'bench',
    broker: engine.broker,
    stores: engine.stores,
    logger: silentLogger,
    topics: events.map((e) => ({ name: e.topic, partitions: tuning.partitions ?? DEFAULT_TUNING.partitions })),
    groups: { 'bench-consumer': { ...DEFAULT_TUNING.group, ...tuning.group } },
    relay: { ...DEFAULT_TUNING.relay, ...tuning.relay },
    transactionBatch: tuning.transactionBatch,
  };
  const app = createApp<SqlTx>(engine.instrument ? engine.instrument.app(appOptions) : appOptions);
  await app.transaction(async (tx) => {
    await tx.execute('CREATE TABLE IF NOT EXISTS bench_orders (id TEXT PRIMARY KEY, k TEXT NOT NULL, seq INTEGER NOT NULL)');
    await tx.execute('CREATE TABLE IF NOT EXISTS bench_effects (event_id TEXT PRIMARY KEY, k TEXT NOT NULL, seq INTEGER NOT NULL)');
  });
  const latenciesMs: number[] = [];
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  app.on(
    events,
    {
      group: 'bench-consumer',
      // runs outside the inbox transaction: when next() returns, the effect has committed
      middleware: [
        (next) =>
          async function measure(event, ctx) {
            await next(event, ctx);
            latenciesMs.push(nowMs() - (event.data as { sentAt: number }).sentAt);
            if (++done === options.events) finish();
          },
      ],
    },
    async (event, ctx) => {
      await ctx.tx.execute('INSERT INTO bench_effects (event_id, k, seq) VALUES ($1, $2, $3)', [event.id, event.data.key, event.data.seq]);
    },
  );
  // the clock starts once the group owns every partition, as the baseline waits for its group join:
  // otherwise the first join (3 s on the Kafka mock) would be measured as pipeline latency
  const partitionCount = events.length * (tuning.partitions ?? DEFAULT_TUNING.partitions);
  const assigned = new Set<string>();
  let allAssigned: () => void = () => {};
  const ownsAll = new Promise<void>((resolve) => (allAssigned = resolve));
  const stopWatching = app.instrumentation.on((fact) => {
    if (fact.kind !== 'assigned' || fact.group !== 'bench-consumer') return;
    for (const tp of fact.partitions) assigned.add(`${tp.topic}/${tp.partition}`);
    if (assigned.size >= partitionCount) allAssigned();
  });
  await app.start({ relay: engine.relayOutbox === undefined });
  await withDeadline(ownsAll, 60_000, () => `the consumer group owns ${assigned.size} of ${partitionCount} partitions after 60 s`);
  stopWatching();
  const relay = engine.relayOutbox && createRelay({ outbox: engine.relayOutbox, broker: engine.broker, stores: engine.stores }, { ...DEFAULT_TUNING.relay, ...tuning.relay });
  relay?.start();

  const send = (seq: number) => {
    // measured from the call, so waiting for a connection counts (as in the baseline)
    const sentAt = nowMs();
    return app.transaction(async (tx, appPublish) => {
      const publish = engine.instrument ? engine.instrument.publish(appPublish) : appPublish;
      const keyIndex = seq % options.keys;
      const key = `k${keyIndex}`;
      await tx.execute('INSERT INTO bench_orders (id, k, seq) VALUES ($1, $2, $3)', [`o${seq}`, key, seq]);
      await publish(events[keyIndex % events.length]!, { key, seq, sentAt, payload: PAYLOAD });
    });
  };

  const started = nowMs();
  if (options.ratePerSec === undefined) await sendFlat(options.events, options.concurrency ?? 512, send);
  else await sendAtRate(options.events, options.ratePerSec, send);
  await finished;
  const elapsedMs = nowMs() - started;
  await relay?.close();
  await app.close();
  return { events: done, elapsedMs, latenciesMs };
}

/** Resolves with `promise`, or rejects with `message()` once `ms` passed. */
async function withDeadline(promise: Promise<void>, ms: number, message: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)));
  try {
    await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `total` events as fast as possible, `concurrency` sends in flight (closed loop). */
export async function sendFlat(total: number, concurrency: number, send: (seq: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await send(next++);
    }),
  );
}

/** Sends on a fixed schedule (open loop): lateness of the system never slows the sender down. */
export async function sendAtRate(total: number, ratePerSec: number, send: (seq: number) => Promise<void>): Promise<void> {
  const start = nowMs();
  const inFlight: Promise<void>[] = [];
  let seq = 0;
  while (seq < total) {
    const due = Math.min(total, Math.floor(((nowMs() - start) * ratePerSec) / 1000) + 1);
    while (seq < due) inFlight.push(send(seq++));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
}

export type { App };
