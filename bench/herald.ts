// Herald's rows: the full reliable pipeline (outbox in the producing transaction, relay, broker,
// consumer group, inbox + effect in one transaction) on one engine, through the public API only.
// Tuned: a batch handler writing each batch's counters with one set-based statement, and the
// engine's tuning (bench/engines.ts). Default: a plain event handler and Herald's defaults, what a
// newcomer writes first.
import { Type } from '@sinclair/typebox';
import { createApp, createRelay, defineEvent, silentLogger, type AppOptions, type EventDefinition, type Publish, type SqlTx } from '@herald/core';
import type { Engine } from './engines.js';
import { Applied, type BenchItem, type BenchRow } from './workload.js';

const BenchData = Type.Object({ key: Type.String(), seq: Type.Integer(), sentAt: Type.Number(), payload: Type.String() });
type BenchEvent = EventDefinition<typeof BenchData>;

/** The benchmark's event type, spread over `count` topics (key index modulo `count` picks one). */
export function benchEvents(count: number): BenchEvent[] {
  if (count === 1) return [defineEvent({ type: 'BenchEvent', topic: 'bench', key: (d) => d.key, schema: BenchData })];
  return Array.from({ length: count }, (_, i) => defineEvent({ type: `BenchEvent.${i}`, topic: `bench-${i}`, key: (d) => d.key, schema: BenchData }));
}

const COUNTERS = 'CREATE TABLE IF NOT EXISTS bench_counters (k TEXT PRIMARY KEY, n BIGINT NOT NULL)';
const COUNT_ONE = 'INSERT INTO bench_counters (k, n) VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET n = bench_counters.n + 1';
const GROUP = 'bench-consumer';

/** The tuned rows' effect for a whole batch: each key's count added in one set-based statement. */
export async function countPerKey(tx: SqlTx, table: string, batch: readonly { readonly data: { readonly key: string } }[]): Promise<void> {
  const perKey = new Map<string, number>();
  for (const event of batch) perKey.set(event.data.key, (perKey.get(event.data.key) ?? 0) + 1);
  const values: string[] = [];
  const params: unknown[] = [];
  for (const [key, n] of perKey) {
    values.push(`($${params.length + 1}, $${params.length + 2})`);
    params.push(key, n);
  }
  await tx.execute(`INSERT INTO ${table} (k, n) VALUES ${values.join(', ')} ON CONFLICT (k) DO UPDATE SET n = ${table}.n + excluded.n`, params);
}

/** The event type an item goes out as (its key's index spreads items over the topics). */
const definitionOf = (events: readonly BenchEvent[], item: BenchItem) => events[item.keyIndex % events.length]!;
const dataOf = (item: BenchItem) => ({ key: item.key, seq: item.seq, sentAt: item.sentAt, payload: item.payload });

/** A batch call's items published with one `publish.many` per event type. */
export async function publishMany(publish: Publish, events: readonly BenchEvent[], items: readonly BenchItem[]): Promise<void> {
  const byDefinition = new Map<BenchEvent, ReturnType<typeof dataOf>[]>();
  for (const item of items) {
    const definition = definitionOf(events, item);
    const list = byDefinition.get(definition);
    if (list) list.push(dataOf(item));
    else byDefinition.set(definition, [dataOf(item)]);
  }
  for (const [definition, data] of byDefinition) await publish.many(definition, data);
}

/** Starts Herald on `engine` and waits until its consumer group owns its partitions. */
export async function heraldRow(engine: Engine, tuned: boolean): Promise<BenchRow> {
  const { tuning } = engine;
  const events = benchEvents(tuning.topics);
  const separateRelay = tuned && engine.relayOutbox !== undefined;
  const appOptions: AppOptions<SqlTx> = {
    name: 'bench',
    broker: engine.broker,
    stores: engine.stores,
    logger: silentLogger,
    topics: events.map((e) => ({ name: e.topic, partitions: tuning.partitions })),
    ...(tuned ? { groups: { [GROUP]: tuning.group ?? {} }, transactionBatch: tuning.transactionBatch } : {}),
    relay: separateRelay ? false : tuned ? tuning.relay : undefined,
    ...(engine.relayHost ? { relayHost: engine.relayHost } : {}),
  };
  const app = createApp<SqlTx>(engine.instrument ? engine.instrument.app(appOptions) : appOptions);
  const traced = (publish: Publish) => (engine.instrument ? engine.instrument.publish(publish) : publish);
  const appPublish = traced(app.publish);
  await app.transaction((tx) => tx.execute(COUNTERS));

  // an event's latency ends when its effect committed: the `handled` fact comes after the commit
  const applied = new Applied();
  const sentAt = new Map<string, number>();
  app.instrumentation.on((fact) => {
    if (fact.kind !== 'handled' || fact.outcome !== 'applied') return;
    const at = sentAt.get(fact.eventId);
    if (at === undefined) return;
    sentAt.delete(fact.eventId);
    applied.record(at);
  });
  if (tuned) {
    app.onBatch(events, { group: GROUP }, async (batch, ctx) => {
      for (const event of batch) sentAt.set(event.id, event.data.sentAt);
      await countPerKey(ctx.tx, 'bench_counters', batch);
    });
  } else {
    app.on(events, { group: GROUP }, async (event, ctx) => {
      sentAt.set(event.id, event.data.sentAt);
      await ctx.tx.execute(COUNT_ONE, [event.data.key]);
    });
  }
  if (engine.observe) app.use(engine.observe(app));
  await app.start();
  await app.ready();
  const relay = separateRelay ? createRelay({ outbox: engine.relayOutbox!, broker: engine.broker, stores: engine.stores }, tuning.relay) : undefined;
  await relay?.start();

  return {
    applied,
    async send(items) {
      if (items.length === 1) {
        await appPublish(definitionOf(events, items[0]!), dataOf(items[0]!));
        return;
      }
      await app.transaction((_tx, txPublish) => publishMany(traced(txPublish), events, items));
    },
    cpuSeconds: engine.cpuSeconds && (() => engine.cpuSeconds!()),
    async close() {
      await relay?.close();
      await app.close();
      await engine.cleanup();
    },
  };
}
