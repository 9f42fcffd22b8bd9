import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessGroup } from '@herald/testing/processes';

/** The example's directory (where `src/main.ts` lives). */
export const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Settings that keep the multi-process tests quick: fast retries, short leases, JSON logs. */
const QUICK: Readonly<Record<string, string>> = {
  PORT: '0',
  HOST: '127.0.0.1',
  HERALD_RETRY_MAX_ATTEMPTS: '100',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  HERALD_RETRY_MAX_DELAY_MS: '200',
  HERALD_RELAY_LEASE_MS: '1000',
  HERALD_SHUTDOWN_DEADLINE_MS: '5000',
  HERALD_LOG_LEVEL: 'info',
  HERALD_LOG_PRETTY: '0',
};

/** Ride-hailing processes a test starts, kills and restarts by name (`env` over quick settings). */
export function rideProcesses(env: Record<string, string>): ProcessGroup {
  return new ProcessGroup({ cwd: EXAMPLE_DIR, readyMessage: 'ride-hailing ready', env: { ...QUICK, ...env } });
}
