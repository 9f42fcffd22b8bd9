import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, silentLogger, type TopicDescription } from '@herald/core';
import { engineFromEnv } from '@herald/engine';

// The repository's `herald` scripts, as the READMEs tell an operator to run them: the root's
// (`npm run -s herald -- <command>`) and each example's (`npm run -s herald -w <example> -- ...`),
// which runs in the example's directory, where its app keeps its files, so a relative
// HERALD_DATA_DIR and the default `./.herald` name the app's own engine.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = ['ticket-orders', 'ride-hailing', 'analytics-pipeline', 'content-platform', 'async-orders'];

/** Runs `npm <args>` from the repository's root with only `env` for the engine; bounded in time. */
function npm(args: readonly string[], env: Readonly<Record<string, string>>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // npm from the node running the tests, found on PATH as the READMEs' shell would
    const path = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
    const child = spawn('npm', args, { cwd: ROOT, env: { PATH: path, HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the herald scripts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-scripts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the root script reads the engine HERALD_DATA_DIR names', { timeout: 90_000 }, async () => {
    const dataDir = join(dir, 'data');
    const engine = await engineFromEnv({ HERALD_DATA_DIR: dataDir }, { logger: silentLogger });
    const app = createApp({ broker: engine.broker, stores: engine.stores, name: 'scripts', logger: silentLogger, topics: [{ name: 'greetings', partitions: 3 }] });
    await app.start();
    await app.close();

    const run = await npm(['run', '-s', 'herald', '--', '--json', 'topics'], { HERALD_DATA_DIR: dataDir });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const topics = JSON.parse(run.stdout) as TopicDescription[];
    expect(topics.find((t) => t.name === 'greetings')?.partitions).toHaveLength(3);
  });

  it.each(EXAMPLES)("%s's script runs in the example's directory: a relative HERALD_DATA_DIR is the app's", { timeout: 90_000 }, async (example) => {
    const run = await npm(['run', '-s', 'herald', '-w', `@herald-examples/${example}`, '--', 'topics'], { HERALD_DATA_DIR: './no-engine-here' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`no Herald engine in ${join(ROOT, 'examples', example, 'no-engine-here')} (no log.db there)`);
  });
});
