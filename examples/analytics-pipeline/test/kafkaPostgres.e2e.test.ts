import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { stopService, type PipelineProcess } from './support/processes.js';
import { runSeparately } from './support/separate.js';

/**
 * Seed 001 at scale: the three services as separate processes on Kafka (librdkafka's mock
 * cluster) and PostgreSQL (the Herald stores, the stream's window state and the analytics store),
 * configured by environment only. The mock holds an empty fetch for all of its max wait: a short
 * one keeps the consumer moving.
 */
describe('analytics-pipeline on Kafka + PostgreSQL, as three processes', () => {
  let mock: KafkaMock | undefined;
  let cluster: PostgresCluster | undefined;
  let env: Record<string, string> = {};
  const processes: PipelineProcess[] = [];
  beforeAll(async () => {
    [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
    env = {
      HERALD_KAFKA_BROKERS: mock.brokers.join(','),
      DATABASE_URL: await cluster.createDatabase('analytics_pipeline'),
      HERALD_KAFKA_FETCH_MAX_WAIT_MS: '10',
      HERALD_PG_POOL_SIZE: '4',
    };
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => stopService(p)));
    await Promise.all([mock?.stop(), cluster?.stop()]);
  });

  it('answers every query exactly, over HTTP and gRPC, with the analytics store in PostgreSQL', { timeout: 240_000 }, async () => {
    await runSeparately(env, 'kpg', processes, { engine: /^kafka \(.*\) \+ postgresql/, analyticsStore: 'postgres' });
  });
});
