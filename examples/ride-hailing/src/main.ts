import { runService } from '@herald/core';
import { pinoLogger } from '@herald/logging';
import { loadConfig } from './config.js';
import { createRideHailing } from './system.js';

/**
 * Runs ride-hailing: every service in one process by default, or the ones named by `--service`
 * (see README.md), on the embedded engine or on Kafka + PostgreSQL as the environment says.
 * Stops gracefully on SIGTERM/SIGINT.
 */
await runService('ride-hailing', () => createRideHailing(loadConfig()), { logger: pinoLogger() });
