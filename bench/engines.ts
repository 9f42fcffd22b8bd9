import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLogger } from '@herald/core';
import type { StartTracingOptions } from '@herald/tracing';
import { cpuSeconds, type CpuSeconds } from './cpu.js';
import type { Engine } from './workload.js';

/** Creates a fresh, empty engine of the named kind for one measurement. */
export type EngineFactory = () => Promise<Engine>;

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

/** Starts the mock Kafka cluster and a throwaway PostgreSQL cluster side by side. */
export async function startKafkaPostgres(): Promise<KafkaPostgresInfra> {
  const [{ startKafkaMock }, { startPostgresCluster }] = await Promise.all([import('@herald/testing/kafka-mock'), import('@herald/testing/postgres-cluster')]);
  const [mock, pg] = await Promise.allSettled([startKafkaMock({ brokers: KAFKA_PG.brokers }), startPostgresCluster()]);
  if (mock.status === 'rejected' || pg.status === 'rejected') {
    if (mock.status === 'fulfilled') await mock.value.stop();
    if (pg.status === 'fulfilled') await pg.value.stop();
    throw mock.status === 'rejected' ? mock.reason : (pg as PromiseRejectedResult).reason;
  }
  const databaseUrl = await pg.value.createDatabase('bench');
  return {
    brokers: mock.value.brokers,
    databaseUrl,
    cpuSeconds: () => cpuSeconds(databaseUrl),
    async stop() {
      await Promise.allSettled([mock.value.stop(), pg.value.stop()]);
    },
  };
}

export const engines: Record<string, EngineFactory> = {
  async embedded() {
    const { sqliteEngine } = await import('@herald/sqlite');
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
    const engine = sqliteEngine({ dataDir });
    return {
      name: 'embedded',
      broker: engine.broker,
      stores: engine.stores,
      cpuSeconds: () => cpuSeconds(),
      async cleanup() {
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },

  /**
   * The embedded engine with tracing on (`@herald/tracing`'s defaults): a create, a send and a
   * process span per event, sampled as OTEL_TRACES_SAMPLER says (default: every one recorded),
   * handed to the SDK's batch processor, whose exporter drops them (a collector's network cost is
   * not ours to measure; building and batching spans is).
   */
  async 'embedded+tracing'() {
    const engine = await engines['embedded']!();
    const { createTracing, startTracing } = await import('@herald/tracing');
    let exported = 0;
    const exporter: NonNullable<StartTracingOptions['exporter']> = {
      export(spans, done) {
        exported += spans.length;
        done({ code: 0 });
      },
      shutdown: async () => {},
    };
    const sdk = startTracing({ exporter, serviceName: 'bench' });
    const tracing = createTracing({ tracerProvider: sdk.provider });
    return {
      ...engine,
      name: 'embedded+tracing',
      instrument: { app: (options) => tracing.app(options), publish: (publish) => tracing.publish(publish) },
      async cleanup() {
        await sdk.shutdown();
        process.stderr.write(`  embedded+tracing: ${exported} spans exported\n`);
        await engine.cleanup();
      },
    };
  },

  /** Herald's reliable pipeline on Kafka (librdkafka's mock cluster, 3 brokers) and PostgreSQL 15 (fsync on). */
  async 'kafka-postgres'() {
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
    const stores = pgStores({ connectionString: infra.databaseUrl, poolSize: KAFKA_PG.poolSize });
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
        // keys of one partition in flight at once: a handler waits for its batch's transaction, so
        // with 2 (the earlier setting) the 64 partitions handled ~2 300 events/s at best and the
        // consumer fell seconds behind at 2 000/s; 64 keeps the batches full.
        // transactionBatch: handler transactions started together share one PostgreSQL transaction
        // (opt-in, GroupOptions.transactionBatch): one BEGIN/COMMIT, and one inbox insert, per batch
        group: { concurrency: 64, maxInFlight: 5000, commitIntervalMs: 100, transactionBatch: 32 },
        // one relay round is two claim statements + produce + mark: large batches amortise them
        relay: { batchSize: 1000, idleMs: 5 },
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
