import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, jsonLogger, partitionForKey, silentLogger, type App, type SqlTx } from '@herald/core';
import { kafkaBroker, type KafkaBroker } from '@herald/kafka';
import { pgStores, type PgStores } from '@herald/postgres';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { Click, ClickCounts, LateClicks, clickTopology, countsOf, expected, lateOf, readTopic, topics, waitFor, workload, type SentClick } from './support.js';

// The same windowed count at scale: window state in PostgreSQL, events in Kafka (the mock
// cluster), restarted mid-way and replayed from the first offset, or taken over by a second
// member; every window's result once.

const PARTITIONS = 4; // the mock cluster creates every topic with 4 partitions
let mock: KafkaMock | undefined;
let cluster: PostgresCluster | undefined;

beforeAll(async () => {
  [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
});
afterAll(async () => {
  await Promise.all([mock?.stop(), cluster?.stop()]);
});

const broker = (brokers = mock!.brokers): KafkaBroker =>
  kafkaBroker({
    brokers,
    logger: jsonLogger({ level: 'error' }),
    clientLogLevel: 'silent',
    fetch: { maxWaitMs: 10 },
    group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
  });

async function member(url: string, brokers = mock!.brokers): Promise<{ broker: KafkaBroker; stores: PgStores; app: App<SqlTx>; outcomes: Map<string, number>; owned: Set<number> }> {
  const stores = pgStores({ connectionString: url });
  await stores.ready();
  const b = broker(brokers);
  const app = createApp<SqlTx>({ name: 'stream-test', broker: b, stores, topics: topics(PARTITIONS), logger: silentLogger, relay: { idleMs: 20 } });
  clickTopology<SqlTx>().install(app);
  const outcomes = new Map<string, number>();
  const owned = new Set<number>(); // the partitions of `clicks` this member holds
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled') outcomes.set(fact.outcome, (outcomes.get(fact.outcome) ?? 0) + 1);
    if (fact.kind === 'assigned') for (const tp of fact.partitions) if (tp.topic === Click.topic) owned.add(tp.partition);
    if (fact.kind === 'revoked') for (const tp of fact.partitions) if (tp.topic === Click.topic) owned.delete(tp.partition);
  });
  return { broker: b, stores, app, outcomes, owned };
}

const publish = async (app: App<SqlTx>, clicks: readonly SentClick[]) => {
  for (const c of clicks) await app.publishDirect(Click, { userId: c.userId, seq: c.seq }, { occurredAt: new Date(c.at) });
};

describe('windowed count on PostgreSQL and Kafka', () => {
  it('emits each window once, on close, across a restart mid-way and a replay of every event', async () => {
    const url = await cluster!.createDatabase('stream_restart');
    const sent = workload(160, PARTITIONS);
    const want = expected(sent, PARTITIONS);
    expect(want.late.length).toBeGreaterThan(0);

    const first = await member(url);
    await first.app.start();
    await publish(first.app, sent.slice(0, 60));
    await waitFor(() => (first.outcomes.get('applied') ?? 0) >= 20, 60_000, 'the first life to apply some clicks');
    await first.app.close();

    const second = await member(url);
    await second.broker.resetOffsets({ group: 'clicks', topic: Click.topic, to: 'earliest' });
    await publish(second.app, sent.slice(60, 100));
    await second.app.start();
    await publish(second.app, sent.slice(100));
    const last = sent.at(-1)!.at;
    await waitFor(
      async () => {
        const state = await second.stores.windows.read('clicks.per-user');
        return state.partitions.length === PARTITIONS && state.partitions.every((p) => p.streamTime === last) && (await second.stores.outbox.backlog()).length === 0;
      },
      90_000,
      'every partition at the last click, everything relayed',
    );
    const state = await second.stores.windows.read('clicks.per-user');
    await second.app.close();

    const reader = broker();
    try {
      expect(countsOf(await readTopic(reader, ClickCounts.topic, PARTITIONS))).toEqual(want.counts);
      expect(lateOf(await readTopic(reader, LateClicks.topic, PARTITIONS))).toEqual(want.late);
    } finally {
      await reader.close();
    }
    expect(state.partitions.reduce((sum, p) => sum + p.late, 0)).toBe(want.late.length);
    const applied = first.outcomes.get('applied') ?? 0;
    expect(second.outcomes.get('duplicate')).toBe(applied);
    expect(applied + (second.outcomes.get('applied') ?? 0)).toBe(sent.length);
  }, 240_000);

  it('continues on the member that takes partitions over: a second member joins, then the first leaves', async () => {
    const url = await cluster!.createDatabase('stream_takeover');
    // a cluster of its own: the other test's topics and group offsets would be read here too
    const own = await startKafkaMock({ brokers: 1 });
    const sent = workload(160, PARTITIONS);
    const want = expected(sent, PARTITIONS);
    const last = sent.at(-1)!.at;
    const a = await member(url, own.brokers);
    const b = await member(url, own.brokers);
    try {
      await a.app.start();
      await publish(a.app, sent.slice(0, 60));
      await waitFor(() => (a.outcomes.get('applied') ?? 0) > 0, 60_000, 'the first member to apply clicks');
      await b.app.start(); // the group rebalances: some partitions move to b, with their window state in PostgreSQL
      await waitFor(() => b.owned.size > 0 && a.owned.size + b.owned.size === PARTITIONS, 60_000, 'the partitions to be shared');
      const second = sent.slice(60, 110);
      expect(second.some((c) => b.owned.has(partitionForKey(c.userId, PARTITIONS)))).toBe(true);
      await publish(b.app, second);
      await waitFor(() => (b.outcomes.get('applied') ?? 0) > 0, 60_000, 'the second member to apply clicks');
      await a.app.close(); // b takes every partition over
      await publish(b.app, sent.slice(110));
      await waitFor(
        async () => {
          const state = await b.stores.windows.read('clicks.per-user');
          return state.partitions.length === PARTITIONS && state.partitions.every((p) => p.streamTime === last) && (await b.stores.outbox.backlog()).length === 0;
        },
        90_000,
        'every partition at the last click, everything relayed',
      );
      const reader = broker(own.brokers);
      try {
        expect(countsOf(await readTopic(reader, ClickCounts.topic, PARTITIONS))).toEqual(want.counts);
        expect(lateOf(await readTopic(reader, LateClicks.topic, PARTITIONS))).toEqual(want.late);
      } finally {
        await reader.close();
      }
      // a delivery redelivered to the new owner after a rebalance is recognised by the inbox
      expect((a.outcomes.get('applied') ?? 0) + (b.outcomes.get('applied') ?? 0)).toBe(sent.length);
    } finally {
      await a.app.close();
      await b.app.close();
      await own.stop();
    }
  }, 300_000);
});
