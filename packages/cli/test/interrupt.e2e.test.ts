import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/index.js';

// Ctrl-C on a read-only command whose engine does not answer (Kafka behind a black hole): the real
// process io, in a process of its own (see e2e/hangingEngine.ts).

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./e2e/hangingEngine.ts', import.meta.url));

describe('herald stopped while it reads', () => {
  it('exits 130 within about a second of SIGINT, though a connect under way would keep the process alive', { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', SCRIPT, 'topics'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await new Promise<void>((resolve) => child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('reading') && resolve()));
    const signalled = Date.now();
    child.kill('SIGINT');
    const safety = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(safety);
    expect([code, stderr]).toEqual([EXIT_CODES.interrupted, 'herald: stopped while reading topics; nothing was changed (interrupted)\n']);
    // the close is waited for 1 s after a stop, then left to the process's exit
    expect(Date.now() - signalled).toBeLessThan(3000);
  });
});
