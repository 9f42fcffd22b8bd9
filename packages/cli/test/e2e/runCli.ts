import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: the CLI runs from there, so `--import tsx` resolves. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `herald` process, for commands that run until stopped (`tail`). */
export interface CliProcess {
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when the process exits. */
  readonly exited: Promise<CliRun>;
  kill(): void;
}

/**
 * Spawns the real bin with node (sources through the `@herald/source` condition and tsx), with only
 * `env` for the engine (plus PATH and HOME): nothing of the test's own environment leaks into the
 * engine selection. stdin is not a terminal, as in a script.
 */
export function spawnCli(args: readonly string[], env: Readonly<Record<string, string>>): CliProcess {
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { stderr: () => stderr, exited, kill: () => child.kill('SIGINT') };
}

/** Runs `herald <args>` to completion (bounded by `timeoutMs`: a hung command fails the test). */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string>>, timeoutMs = 60_000): Promise<CliRun> {
  const run = spawnCli(args, env);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.kill();
      reject(new Error(`herald ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${run.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The JSON a `--json` command printed, after checking it exited 0. */
export function json<T>(run: CliRun): T {
  if (run.code !== 0) throw new Error(`herald exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
