import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLogger } from '@herald/core';
import type { App, AppOptions, Broker, Component, GroupOptions, OutboxStore, Publish, RelayHost, RelayOptions, SqlTx, Stores } from '@herald/core';
import type { Client as PgClient } from 'pg';
import { cpuSeconds, type CpuSeconds } from './cpu.js';

/** A broker and its stores for one measurement, with how the tuned Herald row sets it up. */
export interface Engine {
  readonly name: string;
  readonly broker: Broker;
  readonly stores: Stores<SqlTx>;
  /**
   * When given, the tuned row's relay claims and marks through this outbox handle (its own
   * connections) instead of `stores.outbox`, as a relay deployed apart from the application would.
   */
  readonly relayOutbox?: OutboxStore<SqlTx>;
  /** How the tuned row configures this engine; the default row uses Herald's defaults. */
  readonly tuning: WorkloadTuning;
  /** Where the app's relay runs when not on its event loop (the embedded engine's relay thread). */
  readonly relayHost?: RelayHost;
  /** A component to add to the row's app (a variant measuring what e.g. metrics cost). */
  readonly observe?: (app: App<SqlTx>) => Component;
  /** Observability around the app (a variant measuring what e.g. tracing costs): its options, and the producers' publish. */
  readonly instrument?: {
    app(options: AppOptions<SqlTx>): AppOptions<SqlTx>;
    publish(publish: Publish): Publish;
  };
  cpuSeconds?(): CpuSeconds;
  /** Releases whatever the engine started (servers, files), after the app closed broker and stores. */
  cleanup(): Promise<void>;
}

/** What a deployment of an engine tunes; the same events and effect whatever the values. */
export interface WorkloadTuning {
  /** Topics the keys are spread over (key index modulo the count). */
  readonly topics: number;
  /** Partitions declared per topic. */
  readonly partitions: number;
  readonly group?: GroupOptions<SqlTx>;
  readonly relay?: RelayOptions;
  /** Application transactions per store transaction (`AppOptions.transactionBatch`). */
  readonly transactionBatch?: number;
}

/**
 * Creates a fresh, empty engine of the named kind for one measurement: as the tuned row deploys it
 * (`tuned`), or with the adapters' defaults, as a newcomer gets it.
 */
export type EngineFactory = (tuned: boolean) => Promise<Engine>;

/** A Kafka-protocol cluster and a PostgreSQL database started for one measurement, and their teardown. */
export interface KafkaPostgresInfra {
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  /** CPU used so far by this process, the PostgreSQL cluster and the mock cluster. */
  cpuSeconds(): CpuSeconds;
  stop(): Promise<void>;
}

/**
 * Kafka + PostgreSQL settings shared by Herald's engine and the hand-written baseline, so that both
 * run on the same infrastructure with the same knobs.
 */
export const KAFKA_PG = {
  /** Brokers in the mock cluster (partition leaders spread over them), as the adapter's tests use. */
  brokers: 3,
  /**
   * 16 topics of 4 partitions (the mock gives every topic 4, whatever is declared): 64 partitions,
   * as one topic of 64 would be on a real cluster. Enough room: the mock keeps ~5 MiB per partition
   * (oldest silently dropped), 320 MiB in all against ~45 MiB for 100 000 envelopes. And enough
   * parallelism: the mock answers a fetch with one produce request's records per partition and finds
   * them by a linear scan of the partition's log, which throttles a consumer of one-record produce
   * requests (the baseline's) the more, the fewer partitions there are (4 topics: about half the rate).
   */
  topics: 16,
  partitionsPerTopic: 4,
  /**
   * Fetch max wait: the mock answers an empty fetch only after its whole max wait (a real broker
   * answers as soon as `minBytes` arrived), so the 500 ms default would be pure latency here.
   */
  fetchMaxWaitMs: 5,
  /**
   * Connections of the application's pool (and the baseline consumer's): enough concurrent commits
   * for PostgreSQL's group commit; 8 and 12 measured no better on this 2-core machine.
   */
  poolSize: 24,
} as const;

/**
 * With `HERALD_BENCH_PG_STATEMENTS=<n>` (bench/profile.ts), the cluster tracks its statements
 * (pg_stat_statements) and the run ends with the n that took the most server time: where the
 * PostgreSQL side of a row spends it.
 */
const STATEMENTS_REPORTED = Number(process.env['HERALD_BENCH_PG_STATEMENTS'] ?? 0);

/** Starts the mock Kafka cluster and a throwaway PostgreSQL cluster side by side. */
export async function startKafkaPostgres(): Promise<KafkaPostgresInfra> {
  const [{ startKafkaMock }, { startPostgresCluster }] = await Promise.all([import('@herald/testing/kafka-mock'), import('@herald/testing/postgres-cluster')]);
  const tracked = STATEMENTS_REPORTED > 0 ? { settings: { shared_preload_libraries: "'pg_stat_statements'", 'pg_stat_statements.track': "'all'" } } : {};
  const [mock, pg] = await Promise.allSettled([startKafkaMock({ brokers: KAFKA_PG.brokers }), startPostgresCluster(tracked)]);
  if (mock.status === 'rejected' || pg.status === 'rejected') {
    if (mock.status === 'fulfilled') await mock.value.stop();
    if (pg.status === 'fulfilled') await pg.value.stop();
    throw mock.status === 'rejected' ? mock.reason : (pg as PromiseRejectedResult).reason;
  }
  const databaseUrl = await pg.value.createDatabase('bench');
  if (STATEMENTS_REPORTED > 0) await onDatabase(databaseUrl, (client) => client.query('CREATE EXTENSION pg_stat_statements'));
  return {
    brokers: mock.value.brokers,
    databaseUrl,
    cpuSeconds: () => cpuSeconds(databaseUrl),
    async stop() {
      if (STATEMENTS_REPORTED > 0) await reportStatements(databaseUrl, STATEMENTS_REPORTED).catch((error: unknown) => console.error('bench: no statement report:', error));
      await Promise.allSettled([mock.value.stop(), pg.value.stop()]);
    },
  };
}

async function onDatabase<T>(url: string, work: (client: PgClient) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The `count` statements that took the most server time, with their calls and rows. */
async function reportStatements(url: string, count: number): Promise<void> {
  const { rows } = await onDatabase(url, (client) =>
    client.query<{ ms: number; calls: number; rows: number; query: string }>(
      `SELECT round(total_exec_time)::int AS ms, calls, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS query
       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1`,
      [count],
    ),
  );
  console.log('PostgreSQL statements by server time (ms, calls, rows):');
  for (const row of rows) console.log(`  ${row.ms} ms  ${row.calls} calls  ${row.rows} rows  ${row.query}`);
}

export const engines: Record<string, EngineFactory> = {
  async embedded(tuned) {
    const { sqliteEngine } = await import('@herald/sqlite');
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
    const engine = sqliteEngine({ dataDir, relayThread: tuned });
    return {
      name: tuned ? 'embedded' : 'embedded-default',
      broker: engine.broker,
      stores: engine.stores,
      ...(engine.relayHost ? { relayHost: engine.relayHost } : {}),
      tuning: { topics: 1, partitions: 8, group: { maxInFlight: 20_000, commitIntervalMs: 100, maxBatch: 1000 }, relay: { batchSize: 5000, idleMs: 5 } },
      cpuSeconds: () => cpuSeconds(),
      async cleanup() {
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },

  /** Herald's reliable pipeline on Kafka (librdkafka's mock cluster, 3 brokers) and PostgreSQL 15 (fsync on). */
  async 'kafka-postgres'(tuned) {
    const [{ kafkaBroker }, { pgStores }] = await Promise.all([import('@herald/kafka'), import('@herald/postgres')]);
    const infra = await startKafkaPostgres();
    const broker = kafkaBroker({
      brokers: infra.brokers,
      logger: jsonLogger({ level: 'error' }),
      clientLogLevel: 'silent',
      fetch: { maxWaitMs: KAFKA_PG.fetchMaxWaitMs },
      // the mock's first join waits 3 s and every rebalance the session timeout minus 1 s
      group: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 10_000 },
    });
    const stores = pgStores({ connectionString: infra.databaseUrl, ...(tuned ? { poolSize: KAFKA_PG.poolSize } : {}) });
    if (!tuned) {
      return { name: 'kafka-postgres-default', broker, stores, tuning: { topics: KAFKA_PG.topics, partitions: KAFKA_PG.partitionsPerTopic }, cpuSeconds: () => infra.cpuSeconds(), cleanup: () => infra.stop() };
    }
    // The relay on its own two connections, as relay replicas deployed apart from the services are:
    // sharing the application's pool, each claim and mark waited behind the 512 queued application
    // transactions (claim + mark ~0.9 s per round, the relay the bottleneck at ~700 events/s).
    const relayStores = pgStores({ connectionString: infra.databaseUrl, poolSize: 2 });
    return {
      name: 'kafka-postgres',
      broker,
      stores,
      relayOutbox: relayStores.outbox,
      cpuSeconds: () => infra.cpuSeconds(),
      tuning: {
        topics: KAFKA_PG.topics,
        partitions: KAFKA_PG.partitionsPerTopic,
        // a batch handler: each partition's ready events in one transaction (up to maxBatch)
        group: { maxInFlight: 20_000, commitIntervalMs: 100, maxBatch: 500 },
        // one relay round is two claim statements + produce + mark: large batches amortise them.
        // And a round's records, spread over 64 partitions, are what a consumer's fetch gets per
        // partition (the mock answers with one produce request per partition), so the round's size
        // sets the size of the consumer's transactions: 1,000 made ~16 events per transaction
        // (7,300 events/s), 5,000 about five times that (9,500)
        relay: { batchSize: 5000, idleMs: 5 },
        // application transactions started together share one PostgreSQL transaction (opt-in,
        // AppOptions.transactionBatch): their works run one after another, their outbox records go
        // in with one insert before the one COMMIT
        transactionBatch: 32,
      },
      async cleanup() {
        await relayStores.close();
        await infra.stop();
      },
    };
  },
};
