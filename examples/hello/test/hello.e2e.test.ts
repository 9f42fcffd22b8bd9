import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Type } from '@sinclair/typebox';
import { createApp, defineEvent } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = new URL('../src/main.ts', import.meta.url).pathname;
// by URL, so the demo also runs from a directory with no node_modules (its default data directory is relative)
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const root = mkdtempSync(join(tmpdir(), 'herald-hello-'));
const dataDir = join(root, 'data');
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function hello(name: string, env: Record<string, string> = { HERALD_DATA_DIR: dataDir }, cwd?: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--conditions=@herald/source', '--import', tsx, main, name], {
    env: { ...process.env, HERALD_LOG_LEVEL: 'warn', ...env },
    timeout: 30_000,
    ...(cwd ? { cwd } : {}),
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

  it('takes an empty HERALD_DATA_DIR as unset, as every Herald variable: .herald/hello where it runs', async () => {
    const cwd = mkdtempSync(join(root, 'cwd-'));
    expect(await hello('empty', { HERALD_DATA_DIR: '' }, cwd)).toEqual(['hello, empty']);
    expect(existsSync(join(cwd, '.herald', 'hello', 'store.db'))).toBe(true);
  });

  it('handles once a greeting an interrupted run left in the outbox, then its own, and exits', async () => {
    const interrupted = join(root, 'interrupted');
    const Greeted = defineEvent({ type: 'Greeted', topic: 'greetings', key: (d) => d.name, schema: Type.Object({ name: Type.String({ minLength: 1 }) }) });
    const app = createApp({ ...sqliteEngine({ dataDir: interrupted }), relay: false });
    await app.start();
    await app.publish(Greeted, { name: 'earlier' }); // committed, never relayed: the run stopped here
    await app.close();

    expect((await hello('later', { HERALD_DATA_DIR: interrupted })).sort()).toEqual(['hello, earlier', 'hello, later']);
    expect(await hello('again', { HERALD_DATA_DIR: interrupted })).toEqual(['hello, again']);
  });
});
