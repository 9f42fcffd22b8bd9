import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, stopProcess } from '@herald/testing/processes';
import type { PipelineUrls } from '../../src/system.js';
import { TEST_ENV } from './inProcess.js';

/** The example's directory (where `src/main.ts` lives). */
export const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A pipeline process started by a test. */
export interface PipelineProcess {
  readonly child: ChildProcess;
  /** Where its listeners answer, from its `analytics-pipeline ready` line. */
  readonly urls: PipelineUrls;
  /** Every log line it wrote so far (JSON lines). */
  readonly lines: string[];
  /** Resolves with the exit code (or the signal name) when it exits. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts `node --conditions=@herald/source --import tsx src/main.ts --service <service>` with
 * {@link TEST_ENV} and `env` on top (the embedded engine in `HERALD_DATA_DIR` unless `env`
 * selects Kafka + PostgreSQL), and resolves once it logged `analytics-pipeline ready`. Fails
 * after `timeoutMs`, or if it exits first, with the end of its log.
 */
export async function startService(service: string, env: Record<string, string>, timeoutMs = 60_000): Promise<PipelineProcess> {
  const started = await startProcess<PipelineUrls>({
    name: service,
    cwd: EXAMPLE_DIR,
    args: ['src/main.ts', '--service', service],
    env: { ...process.env, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', ...TEST_ENV, HERALD_LOG_LEVEL: 'info', HERALD_LOG_PRETTY: '0', ...env },
    readyMessage: 'analytics-pipeline ready',
    timeoutMs,
  });
  return { child: started.child, urls: started.ready, lines: started.lines, exited: started.exited };
}

/** Stops a process: SIGTERM, then SIGKILL if it has not exited within `graceMs`. Returns its exit. */
export function stopService(process: PipelineProcess | undefined, graceMs = 15_000): Promise<number | string | undefined> {
  return stopProcess(process, graceMs);
}

/** The consumer groups a process was assigned partitions of, from its log. */
export function groupsOf(process: PipelineProcess): Set<string> {
  return new Set(process.lines.filter((l) => l.includes('"msg":"partitions assigned"')).map((l) => (JSON.parse(l) as { group: string }).group));
}
