import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = new URL('../src/main.ts', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'herald-hello-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function hello(name: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', main, name], {
    env: { ...process.env, HERALD_DATA_DIR: dataDir, HERALD_LOG_LEVEL: 'warn' },
    timeout: 30_000,
  });
  return stdout.trim().split('\n');
}

describe('hello world', () => {
  it('publishes through the outbox, handles the event and exits', async () => {
    expect(await hello('herald')).toEqual(['hello, herald']);
  });

  it('on a second run greets only the new name: the group resumed after its committed offset', async () => {
    expect(await hello('again')).toEqual(['hello, again']);
  });

  it('refuses an empty name with a one-line usage and exit code 2, no stack trace', async () => {
    const failed = await hello('').then(
      () => undefined,
      (error: { code?: number; stdout?: string; stderr?: string }) => error,
    );
    expect({ code: failed?.code, stdout: failed?.stdout, stderr: failed?.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr: 'usage: npm run hello -- <name> (the name must not be empty)\n',
    });
  });
});
