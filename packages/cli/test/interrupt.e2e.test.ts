import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/index.js';

// Ctrl-C on a command whose engine does not answer (Kafka behind a black hole): the real process
// io, in a process of its own (see e2e/hangingEngine.ts, whose describeTopics never answers).

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./e2e/hangingEngine.ts', import.meta.url));

/** Runs `herald <args>` on the hanging engine, sends SIGINT once it waits on its read, and returns how it ended. */
async function interruptedRead(args: readonly string[]) {
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', SCRIPT, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  await new Promise<void>((resolve) => child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('reading') && resolve()));
  const signalled = Date.now();
  child.kill('SIGINT');
  // a command that ignores the stop is killed here, and fails on its exit code
  const safety = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(safety);
  return { code, stderr, ms: Date.now() - signalled };
}

describe('herald stopped while it reads', () => {
  it('exits 130 within about a second of SIGINT, though a connect under way would keep the process alive', { timeout: 60_000 }, async () => {
    const run = await interruptedRead(['topics']);
    expect([run.code, run.stderr]).toEqual([EXIT_CODES.interrupted, 'herald: stopped while reading topics; nothing was changed (interrupted)\n']);
    // the close is waited for 1 s after a stop, then left to the process's exit
    expect(run.ms).toBeLessThan(3000);
  });

  it('tail ends quietly with exit 0 when stopped on a read that does not answer', { timeout: 60_000 }, async () => {
    const run = await interruptedRead(['tail', 'steps']);
    expect([run.code, run.stderr]).toEqual([EXIT_CODES.ok, '']);
  });

  it('replay stops with exit 130 on a read before the reset, having changed nothing', { timeout: 60_000 }, async () => {
    const run = await interruptedRead(['replay', 'worker', '--to', 'earliest', '--topic', 'steps', '--yes']);
    expect([run.code, run.stderr]).toEqual([EXIT_CODES.interrupted, 'herald: stopped while reading topics; nothing was changed (interrupted)\n']);
  });
});
