import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLogger } from '@herald/core';
import type { Engine } from './workload.js';

/** Creates a fresh, empty engine of the named kind for one measurement. */
export type EngineFactory = () => Promise<Engine>;

/** A Kafka-protocol cluster and a PostgreSQL database started for one measurement, and their teardown. */
export interface KafkaPostgresInfra {
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * Kafka + PostgreSQL settings shared by Herald's engine and the hand-written baseline, so that both
 * run on the same infrastructure with the same knobs.
 */
export const KAFKA_PG = {
  /** Brokers in the mock cluster: acks=all then waits for a real (mock) ISR of three. */
  brokers: 3,
  /**
   * The mock gives every topic 4 partitions and keeps ~5 MiB per partition (oldest silently
   * dropped), so the events are spread over 4 topics: 16 partitions, 80 MiB, enough for 100 000
   * envelopes (~450 bytes) even if the consumer fell behind by all of them. On a real cluster this
   * would be one topic of 16 partitions.
   */
  topics: 4,
  partitionsPerTopic: 4,
  /**
   * Fetch max wait: the mock answers an empty fetch only after its whole max wait (a real broker
   * answers as soon as `minBytes` arrived), so the 500 ms default would be pure latency here.
   */
  fetchMaxWaitMs: 5,
  /** Connections of each process' pool: enough to keep PostgreSQL's group commit fed on 2 cores. */
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
      async cleanup() {
        rmSync(dataDir, { recursive: true, force: true });
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
    // sharing the application's pool, each claim and mark waited behind every queued transaction.
    const relayStores = pgStores({ connectionString: infra.databaseUrl, poolSize: 2 });
    return {
      name: 'kafka-postgres',
      broker,
      stores,
      relayOutbox: relayStores.outbox,
      tuning: {
        topics: KAFKA_PG.topics,
        partitions: KAFKA_PG.partitionsPerTopic,
        // keys of one partition in flight at once: 16 partitions x 8 keeps the pool busy without a long queue for it
        group: { concurrency: 8, maxInFlight: 5000, commitIntervalMs: 100 },
        // one relay round is claim + produce + mark: large batches amortise the two queries
        relay: { batchSize: 1000, idleMs: 5 },
      },
      async cleanup() {
        await relayStores.close();
        await infra.stop();
      },
    };
  },
};
