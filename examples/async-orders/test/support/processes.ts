import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessGroup } from '@herald/testing/processes';

/** The example's directory (where `src/main.ts` lives). */
export const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Settings that keep the multi-process tests quick: fast retries, short leases, quiet logs. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  HOST: '127.0.0.1',
  HERALD_RETRY_MAX_ATTEMPTS: '100',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  HERALD_RETRY_MAX_DELAY_MS: '200',
  HERALD_IDEMPOTENCY_LEASE_MS: '2000',
  HERALD_RELAY_LEASE_MS: '1000',
  HERALD_SHUTDOWN_DEADLINE_MS: '5000',
  PROFILE_TIMEOUT_MS: '3000',
  HERALD_LOG_LEVEL: 'info',
  HERALD_LOG_PRETTY: '0',
};

/**
 * The environment of a system a test runs in its own process: the embedded engine in `dir` (even
 * where Kafka and PostgreSQL variables are set), quiet, with fast retries; `extra` over it.
 */
export function inProcessEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HERALD_DATA_DIR: dir,
    HERALD_KAFKA_BROKERS: '',
    DATABASE_URL: '',
    PORT: '0',
    HERALD_LOG_LEVEL: 'silent',
    HERALD_RETRY_INITIAL_DELAY_MS: '10',
    HERALD_RETRY_MAX_DELAY_MS: '100',
    ...extra,
  };
}

/** Async-orders processes a test starts, kills and restarts by name (`baseEnv` over {@link TEST_ENV}). */
export class Processes extends ProcessGroup {
  constructor(baseEnv: Record<string, string>) {
    super({ cwd: EXAMPLE_DIR, readyMessage: 'async-orders ready', env: { ...TEST_ENV, ...baseEnv } });
  }
}
