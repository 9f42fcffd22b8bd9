import { closeOnSignals } from '@herald/core';
import { pinoLogger } from '@herald/logging';
import { loadConfig } from './config.js';
import { createAsyncOrders, type AsyncOrders } from './system.js';

/**
 * Runs async-orders: every service in one process by default, or the ones named by `--service`
 * (see README.md), on the embedded engine or on Kafka + PostgreSQL as the environment says.
 * Stops gracefully on SIGTERM/SIGINT.
 */
let system: AsyncOrders | undefined;
try {
  system = await createAsyncOrders(loadConfig());
} catch (error) {
  pinoLogger().error('async-orders failed to start', { error });
  process.exitCode = 1;
}
if (system) {
  const running = system;
  closeOnSignals(() => running.close(), { logger: running.logger });
  try {
    await running.start();
  } catch (error) {
    running.logger.error('async-orders failed to start', { error });
    await running.close().catch(() => {});
    process.exitCode = 1;
  }
}
