import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@herald/core';
import { engineFromEnv } from '@herald/engine';

// `herald tail <topic> | head -1`: the real bin, whose stdout's reader reads one line and goes away.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));

describe('herald tail into a pipe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-pipe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops quietly, exit 0, when the reader closes the pipe (EPIPE)', { timeout: 60_000 }, async () => {
    const env = { HERALD_DATA_DIR: join(dir, 'data') };
    const app = await engineFromEnv(env, { logger: silentLogger });
    // far more than a pipe's buffer holds, so tail is still writing when the reader leaves
    for (let batch = 0; batch < 20; batch++) {
      await app.broker.publish(Array.from({ length: 1000 }, (_, i) => ({ topic: 'steps', key: `k${i % 7}`, value: JSON.stringify({ batch, i, pad: 'x'.repeat(100) }) })));
    }
    await app.close();

    const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', BIN, 'tail', 'steps', '--from', 'beginning'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // head -1: read up to the first line, then close the pipe
    const first = await new Promise<string>((resolve) => {
      let seen = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        seen += chunk;
        if (!seen.includes('\n')) return;
        child.stdout.destroy();
        resolve(seen.slice(0, seen.indexOf('\n')));
      });
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(timer);
    expect(first).toContain('steps/');
    expect([code, stderr]).toEqual([0, 'following steps (8 partitions) from the beginning; Ctrl-C to stop\n']);
  });
});
