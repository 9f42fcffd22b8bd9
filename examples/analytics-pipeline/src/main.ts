import { closeOnSignals } from '@herald/core';
import { pinoLogger } from '@herald/logging';
import { loadConfig } from './config.js';
import { createAnalyticsPipeline, type AnalyticsPipeline } from './system.js';

/**
 * Runs the analytics pipeline: the three services in one process by default, or the ones named
 * by `--service` (see README.md), on the embedded engine or on Kafka + PostgreSQL as the
 * environment says. Stops gracefully on SIGTERM/SIGINT.
 */
let system: AnalyticsPipeline | undefined;
try {
  system = await createAnalyticsPipeline(loadConfig());
} catch (error) {
  // a configuration error: nothing is open yet
  pinoLogger().error('analytics-pipeline failed to start', { error });
  process.exitCode = 1;
}
if (system) {
  const running = system;
  closeOnSignals(() => running.close(), { logger: running.logger });
  try {
    await running.start();
  } catch (error) {
    running.logger.error('analytics-pipeline failed to start', { error });
    await running.close().catch(() => {});
    process.exitCode = 1;
  }
}
