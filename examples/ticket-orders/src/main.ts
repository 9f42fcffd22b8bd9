import { closeOnSignals } from '@herald/http';
import { loadConfig } from './config.js';
import { createTicketOrders } from './system.js';

/**
 * Runs ticket-orders: every service in one process by default, or the ones named by
 * `--service` (see README.md). Stops gracefully on SIGTERM/SIGINT.
 */
const system = createTicketOrders(loadConfig());
closeOnSignals(() => system.close(), { logger: system.logger });
try {
  await system.start();
} catch (error) {
  system.logger.error('ticket-orders failed to start', { error });
  await system.close().catch(() => {});
  process.exitCode = 1;
}
