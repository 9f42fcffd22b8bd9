import { runService } from '@herald/core';
import { pinoLogger } from '@herald/logging';
import { loadConfig } from './config.js';
import { createContentPlatform } from './system.js';

/**
 * Runs content-platform: every service in one process by default, or the ones named by
 * `--service` (see README.md), on the embedded engine or on Kafka + PostgreSQL as the environment
 * says. Stops gracefully on SIGTERM/SIGINT.
 */
await runService('content-platform', () => createContentPlatform(loadConfig()), { logger: pinoLogger() });
