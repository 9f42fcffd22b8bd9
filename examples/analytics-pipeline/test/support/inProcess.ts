import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createAnalyticsPipeline, type AnalyticsPipeline, type PipelineUrls } from '../../src/system.js';
import { GRACE_MS } from './scenario.js';

/**
 * Settings of every test: free ports on 127.0.0.1, the scenario's grace, an idle timeout far
 * beyond any test, so stream time moves only with the events the test sends (what is final or late
 * never depends on timing), and the longest analytics retention (100 years): the scenario's events
 * are on fixed dates (2026-01-01), which must never age out of the store or of the answers.
 */
export const TEST_ENV: Readonly<Record<string, string>> = {
  HOST: '127.0.0.1',
  PRODUCER_HTTP_PORT: '0',
  PRODUCER_GRPC_PORT: '0',
  CONSUMER_HTTP_PORT: '0',
  ANALYTICS_HTTP_PORT: '0',
  ANALYTICS_GRPC_PORT: '0',
  STREAM_GRACE_MS: String(GRACE_MS),
  STREAM_IDLE_TIMEOUT_MS: '3600000',
  ANALYTICS_RETENTION_MS: String(36_500 * 86_400_000),
  HERALD_RETRY_MAX_ATTEMPTS: '3',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  HERALD_RETRY_MAX_DELAY_MS: '100',
  HERALD_SHUTDOWN_DEADLINE_MS: '5000',
  HERALD_METRICS_POLL_INTERVAL_MS: '250',
  HERALD_LOG_LEVEL: 'silent',
};

/** A fresh data directory, and its removal. */
export function tempDataDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `herald-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The three services in this process on the embedded engine in `dataDir`, started. */
export async function startInProcess(dataDir: string, extra: Record<string, string> = {}): Promise<{ system: AnalyticsPipeline; urls: PipelineUrls }> {
  const env = { ...TEST_ENV, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_DATA_DIR: dataDir, ...extra };
  const system = await createAnalyticsPipeline(loadConfig(env, ['--service', 'all']), env);
  try {
    return { system, urls: await system.start() };
  } catch (error) {
    await system.close();
    throw error;
  }
}
