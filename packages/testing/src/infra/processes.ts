import { spawn, type ChildProcess } from 'node:child_process';
import { eventually } from '../waiting.js';

/** Options of {@link startProcess}. */
export interface StartProcessOptions {
  /** The script and its arguments, run with `node --conditions=@herald/source --import tsx` (the workspace's sources). */
  readonly args: readonly string[];
  /** Working directory (the service's package). */
  readonly cwd: string;
  /** The child's environment (nothing of this process' environment is added). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * The structured log line (`msg`) that says the process is up; resolves with that line's fields.
   * The process must log JSON lines (pino's, as every Herald service does with `HERALD_LOG_PRETTY=0`).
   */
  readonly readyMessage: string;
  /** Give up (and kill the child) after this long. Default 60 000. */
  readonly timeoutMs?: number;
  /** Name in error messages. Default the first argument. */
  readonly name?: string;
}

/** A process started by a test, up and logging. */
export interface TestProcess<Ready = Record<string, unknown>> {
  readonly child: ChildProcess;
  /** The fields of its ready line (URLs it listens on, ...). */
  readonly ready: Ready;
  /** Every line it wrote so far, stdout and stderr. */
  readonly lines: string[];
  /** Resolves with the exit code, or the signal's name, once it exits. */
  readonly exited: Promise<number | string>;
  /** Sends a signal: SIGTERM for a graceful stop, SIGKILL for a crash. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts a Node service from its TypeScript sources and resolves once it logged `readyMessage`.
 * Rejects (with the end of its log) when it exits first or does not get there in time.
 */
export async function startProcess<Ready = Record<string, unknown>>(options: StartProcessOptions): Promise<TestProcess<Ready>> {
  const name = options.name ?? options.args[0] ?? 'process';
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', ...options.args], {
    cwd: options.cwd,
    env: Object.fromEntries(Object.entries(options.env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const tail = () => lines.slice(-30).join('\n');
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not log "${options.readyMessage}" within ${options.timeoutMs ?? 60_000} ms; log:\n${tail()}`));
    }, options.timeoutMs ?? 60_000);
    const onLine = (line: string) => {
      lines.push(line);
      if (!line.startsWith('{')) return;
      const entry = parseLine(line);
      if (entry?.['msg'] === options.readyMessage) {
        clearTimeout(timer);
        resolve(entry as Ready);
      }
    };
    readLines(child.stderr!, onLine);
    readLines(child.stdout!, onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before "${options.readyMessage}"; log:\n${tail()}`));
    });
  });
  return { child, ready, lines, exited, kill: (signal) => void child.kill(signal) };
}

/** Stops a process: SIGTERM, then SIGKILL when it has not exited within `graceMs`. Resolves with how it exited. */
export async function stopProcess(target: Pick<TestProcess<unknown>, 'child' | 'exited'> | undefined, graceMs = 15_000): Promise<number | string | undefined> {
  if (!target) return undefined;
  if (target.child.exitCode === null && target.child.signalCode === null) {
    target.child.kill('SIGTERM');
    const timer = setTimeout(() => target.child.kill('SIGKILL'), graceMs);
    const code = await target.exited;
    clearTimeout(timer);
    return code;
  }
  return target.exited;
}

/** Options of {@link ProcessGroup}. */
export interface ProcessGroupOptions {
  /** The service's package directory; its processes run `src/main.ts --service <service>` there. */
  readonly cwd: string;
  /** The `msg` of the line each process logs once it is up. */
  readonly readyMessage: string;
  /** The environment of every process, over this process' own (engine variables cleared, so a developer's shell cannot pick the engine). */
  readonly env: Readonly<Record<string, string>>;
  /** Give up on a start after this long. Default 90 000. */
  readonly timeoutMs?: number;
}

/**
 * The processes of one system a test starts, crashes and restarts by name; each gets its name as
 * `HERALD_INSTANCE_ID`. `Ready` is the shape of the ready line's fields.
 */
export class ProcessGroup<Ready extends { readonly url?: string } = { readonly url?: string }> {
  private readonly running = new Map<string, { process: TestProcess<Ready>; service: string; env: Record<string, string> }>();

  constructor(private readonly options: ProcessGroupOptions) {}

  /** Starts `--service <service>` as `name`, with `env` over the group's. */
  async start(name: string, service: string, env: Record<string, string> = {}): Promise<TestProcess<Ready>> {
    const all = { ...process.env, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_DATA_DIR: '', ...this.options.env, HERALD_INSTANCE_ID: name, ...env };
    const started = await startProcess<Ready>({
      name,
      cwd: this.options.cwd,
      args: ['src/main.ts', '--service', service],
      env: all,
      readyMessage: this.options.readyMessage,
      timeoutMs: this.options.timeoutMs ?? 90_000,
    });
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

  /** Stops `name` gracefully (SIGTERM); resolves with how it exited. */
  stop(name: string): Promise<number | string | undefined> {
    return stopProcess(this.running.get(name)?.process);
  }

  /** Starts `name` again with its service and env (and `env` over them). */
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

/** The log lines whose `msg` is `msg` (JSON lines). */
export function linesWithMessage(lines: readonly string[], msg: string): string[] {
  const needle = `"msg":${JSON.stringify(msg)}`;
  return lines.filter((line) => line.includes(needle));
}

/**
 * The partitions a consumer process holds according to its own log lines (JSON): those its
 * `partitions assigned` lines gave it, minus those its `partitions revoked` lines took back, in
 * order; only `group`'s when given (a process may run several groups).
 */
export function heldPartitions(lines: readonly string[], group?: string): Set<string> {
  const held = new Set<string>();
  for (const line of lines) {
    if (!line.includes('"msg":"partitions ')) continue;
    const entry = parseLine(line) as { msg?: string; group?: string; partitions?: string[] } | undefined;
    if (!entry?.partitions || (group !== undefined && entry.group !== group)) continue;
    if (entry.msg === 'partitions assigned') for (const partition of entry.partitions) held.add(partition);
    if (entry.msg === 'partitions revoked') for (const partition of entry.partitions) held.delete(partition);
  }
  return held;
}

/**
 * Waits until a consumer process holds some of `group`'s partitions (by {@link heldPartitions}
 * over `lines()`, read again at each try) and returns them. A member holds none while its group
 * rebalances (every rebalance revokes every partition first) or while it rejoins: a test that
 * kills a member "while it holds partitions" waits for this first. The timeout's message shows the
 * process's last membership lines.
 */
export async function holdingPartitions(lines: () => readonly string[], group?: string, timeoutMs = 60_000): Promise<Set<string>> {
  return eventually(
    () => {
      const held = heldPartitions(lines(), group);
      return held.size > 0 ? held : undefined;
    },
    timeoutMs,
    () => `the member to hold some of ${group ?? 'its groups'}'s partitions; its last membership lines:\n${lines().filter((line) => /partitions|rebalanc|join|crash/i.test(line)).slice(-10).join('\n')}`,
  );
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // a line that only looks like JSON
  }
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
