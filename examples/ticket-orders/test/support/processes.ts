import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linesWithMessage, startProcess, stopProcess } from '@herald/testing/processes';

/** The example's directory (where `src/main.ts` lives). */
export const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Settings that keep tests fast: quick retries, quiet logs apart from what the tests count. */
export const FAST_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  HOST: '127.0.0.1',
  HERALD_RETRY_MAX_ATTEMPTS: '50',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  HERALD_RETRY_MAX_DELAY_MS: '200',
  HERALD_IDEMPOTENCY_LEASE_MS: '2000',
  HERALD_SHUTDOWN_DEADLINE_MS: '5000',
  HERALD_LOG_LEVEL: 'debug',
  // the tests read JSON lines, whatever the developer's shell prefers
  HERALD_LOG_PRETTY: '0',
};

/** A ticket-orders process started by a test. */
export interface ExampleProcess {
  readonly child: ChildProcess;
  /** Its base URL, once it listens (api processes only). */
  readonly url: string | undefined;
  /** Where it serves its metrics: the api's /metrics, or its metrics server (`METRICS_PORT`); undefined for other processes. */
  readonly metricsUrl: string | undefined;
  /** Every log line it wrote so far (JSON lines on stderr, anything on stdout). */
  readonly lines: string[];
  /** Resolves with the exit code (or the signal name) when it exits. */
  readonly exited: Promise<number | string>;
  /** Sends a signal (SIGTERM for a graceful stop, SIGKILL for a crash). */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts `node --conditions=@herald/source --import tsx src/main.ts [--service s]` with `env` on top of {@link FAST_ENV} (and
 * `HERALD_DATA_DIR` = `dataDir` when given: the embedded engine's files), and
 * resolves once it logged `ticket-orders ready` (or, with `until: 'listening'`, as soon as its
 * HTTP listener is up). Fails after `timeoutMs` or if it exits first.
 */
export async function startExample(options: { dataDir?: string; env?: Record<string, string>; service?: string; until?: 'ready' | 'listening'; timeoutMs?: number }): Promise<ExampleProcess> {
  const started = await startProcess<{ url?: string; metricsUrl?: string }>({
    name: `ticket-orders${options.service ? ` --service ${options.service}` : ''}`,
    cwd: EXAMPLE_DIR,
    args: ['src/main.ts', ...(options.service ? ['--service', options.service] : [])],
    // the embedded engine unless the test selects Kafka + PostgreSQL (whatever the developer's shell says)
    env: { ...process.env, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', ...FAST_ENV, ...(options.dataDir ? { HERALD_DATA_DIR: options.dataDir } : {}), ...options.env },
    readyMessage: options.until === 'listening' ? 'listening' : 'ticket-orders ready',
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  return { ...started, url: started.ready.url, metricsUrl: started.ready.metricsUrl };
}

/** Stops a process: SIGTERM, then SIGKILL if it has not exited within `graceMs`. Returns its exit. */
export function stopExample(process: ExampleProcess | undefined, graceMs = 15_000): Promise<number | string | undefined> {
  return stopProcess(process, graceMs);
}

/** A fresh data directory, and its removal. */
export function tempDataDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `herald-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Log lines whose `msg` is `msg`. */
export function countLog(lines: readonly string[], msg: string): number {
  return linesWithMessage(lines, msg).length;
}
