import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** A fixture running in its own Node process, with its stdout lines collected. */
export interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  /** Resolves with the process's exit code or signal. */
  readonly exited: Promise<number | string>;
  /** Resolves once a line satisfies `match` (bounded by `timeoutMs`). */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `test/fixtures/<name>.ts` with `node --conditions=@herald/source --import tsx`, passing `args`. */
export function startFixture(name: string, args: readonly string[]): Child {
  const file = fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code ?? -1)));
  return {
    process: child,
    lines,
    exited,
    waitForLine(match, timeoutMs = 20_000) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise<string>((resolve, reject) => {
        const waiter = { match, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`fixture ${name}: no matching line within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((how) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`fixture ${name} exited (${how}) before a matching line; stderr: ${stderr}`));
        });
      });
    },
    kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
