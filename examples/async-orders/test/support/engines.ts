import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster } from '@herald/testing/postgres-cluster';

/** An engine a suite runs the services on in its own process: its environment, and how to clean up after. */
export interface TestEngine {
  readonly name: string;
  open(): Promise<{ env: Record<string, string>; close: () => Promise<void> }>;
}

/** Quiet, fast retries and a free port: the settings of an in-process system, without the engine. */
const QUIET = { PORT: '0', HERALD_LOG_LEVEL: 'silent', HERALD_RETRY_INITIAL_DELAY_MS: '10', HERALD_RETRY_MAX_DELAY_MS: '100' };

/**
 * The embedded engine (SQLite files in a fresh directory) and Kafka (librdkafka's mock cluster) +
 * a throwaway PostgreSQL: `describe.each(ENGINES)` runs a suite on both. PostgreSQL runs a group's
 * transactions side by side where SQLite runs them one after another.
 */
export const ENGINES: readonly TestEngine[] = [
  {
    name: 'the embedded engine (SQLite)',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-async-orders-'));
      return { env: { ...QUIET, HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '' }, close: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'Kafka (mock cluster) + PostgreSQL',
    open: async () => {
      const [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
      const env = { ...QUIET, ...mock.engineEnv, DATABASE_URL: await cluster.createDatabase('async_orders') };
      return { env, close: async () => void (await Promise.all([mock.stop(), cluster.stop()])) };
    },
  },
];
