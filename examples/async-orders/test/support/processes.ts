import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, stopProcess, type TestProcess } from '@herald/testing/processes';

/** The example's directory (where `src/main.ts` lives). */
export const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Settings that keep the multi-process tests quick: fast retries, short leases, quiet logs. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  PORT: '0',
  HOST: '127.0.0.1',
  HERALD_RETRY_MAX_ATTEMPTS: '100',
  HERALD_RETRY_INITIAL_DELAY_MS: '10',
  HERALD_RETRY_MAX_DELAY_MS: '200',
  HERALD_IDEMPOTENCY_LEASE_MS: '2000',
  HERALD_RELAY_LEASE_MS: '1000',
  HERALD_SHUTDOWN_DEADLINE_MS: '5000',
  PROFILE_TIMEOUT_MS: '3000',
  HERALD_LOG_LEVEL: 'info',
  HERALD_LOG_PRETTY: '0',
};

/** The fields of a process' `async-orders ready` line. */
export interface Ready {
  readonly url?: string;
}

/** A set of example processes a test starts, kills and restarts by name. */
export class Processes {
  private readonly running = new Map<string, { process: TestProcess<Ready>; service: string; env: Record<string, string> }>();

  constructor(private readonly baseEnv: Record<string, string>) {}

  /** Starts `--service <service>` as `name` (its instance id), with `env` on top of the base. */
  async start(name: string, service: string, env: Record<string, string> = {}): Promise<TestProcess<Ready>> {
    const all = { ...process.env, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', ...TEST_ENV, ...this.baseEnv, HERALD_INSTANCE_ID: name, ...env };
    const started = await startProcess<Ready>({ name, cwd: EXAMPLE_DIR, args: ['src/main.ts', '--service', service], env: all, readyMessage: 'async-orders ready', timeoutMs: 90_000 });
    this.running.set(name, { process: started, service, env });
    return started;
  }

  /** The base URL of a running HTTP process. */
  url(name: string): string {
    const url = this.running.get(name)?.process.ready.url;
    if (!url) throw new Error(`${name} does not listen`);
    return url;
  }

  /** Whether `name` runs (was started and has not exited). */
  alive(name: string): boolean {
    const child = this.running.get(name)?.process.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** SIGKILLs `name` and waits for it to be gone. */
  async crash(name: string): Promise<void> {
    const entry = this.running.get(name)!;
    entry.process.kill('SIGKILL');
    await entry.process.exited;
  }

  /** Stops `name` gracefully (SIGTERM). */
  async stop(name: string): Promise<void> {
    await stopProcess(this.running.get(name)?.process);
  }

  /** Starts `name` again with its service and env (and `env` on top). */
  async restart(name: string, env: Record<string, string> = {}): Promise<TestProcess<Ready>> {
    const entry = this.running.get(name)!;
    return this.start(name, entry.service, { ...entry.env, ...env });
  }

  /** Log lines of `name` (its current run). */
  lines(name: string): readonly string[] {
    return this.running.get(name)?.process.lines ?? [];
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((entry) => stopProcess(entry.process, 5_000)));
  }
}
