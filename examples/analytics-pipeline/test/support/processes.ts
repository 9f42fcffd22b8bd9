import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'src/main.ts', '--service', service], {
    cwd: EXAMPLE_DIR,
    env: { ...process.env, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', ...TEST_ENV, HERALD_LOG_LEVEL: 'info', HERALD_LOG_PRETTY: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const urls = await new Promise<PipelineUrls>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${service} did not start in time; log:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as PipelineUrls & { msg?: string };
      if (entry.msg === 'analytics-pipeline ready') {
        clearTimeout(timer);
        resolve(entry);
      }
    };
    readLines(child.stderr!, onLine);
    readLines(child.stdout!, onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${service} exited (${code}) before starting; log:\n${lines.slice(-20).join('\n')}`));
    });
  });
  return { child, urls, lines, exited };
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
    }
  });
}

/** Stops a process: SIGTERM, then SIGKILL if it has not exited within `graceMs`. Returns its exit. */
export async function stopService(process: PipelineProcess | undefined, graceMs = 15_000): Promise<number | string | undefined> {
  if (!process) return undefined;
  if (process.child.exitCode !== null || process.child.signalCode !== null) return process.exited;
  process.child.kill('SIGTERM');
  const timer = setTimeout(() => process.child.kill('SIGKILL'), graceMs);
  const code = await process.exited;
  clearTimeout(timer);
  return code;
}

/** The consumer groups a process was assigned partitions of, from its log. */
export function groupsOf(process: PipelineProcess): Set<string> {
  return new Set(process.lines.filter((l) => l.includes('"msg":"partitions assigned"')).map((l) => (JSON.parse(l) as { group: string }).group));
}
