import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@herald/core';
import { engineFromEnv } from '@herald/engine';
import { EXIT_CODES, main } from '../src/index.js';
import { fakeIo } from './support.js';

// The CLI on the embedded engine's files, opened from HERALD_DATA_DIR as the bin opens them, next
// to an engine the test holds as the app would.

const envelope = (seq: number) =>
  JSON.stringify({ id: `0190a5b0-0000-7000-8000-${String(seq).padStart(12, '0')}`, type: 'Step', version: 1, topic: 'steps', key: 'a', correlationId: 'c', causationId: null, occurredAt: '2025-06-01T12:00:00.000Z', headers: {}, data: { seq } });

describe('herald on the embedded engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-embedded-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tail waits for a topic that does not exist yet, then prints it from its start', async () => {
    const env = { HERALD_DATA_DIR: join(dir, 'tail') };
    const app = await engineFromEnv(env, { logger: silentLogger });
    try {
      const fake = fakeIo();
      const tail = main(['tail', 'steps', '--json', '--limit', '3', '--poll-ms', '5'], { ...fake.io, env }, {});
      while (!fake.stderr().includes('waiting for topic steps')) await new Promise((resolve) => setTimeout(resolve, 5));
      // the first publish creates the topic with its records in it: all of them came after tail started
      await app.broker.publish([0, 1, 2].map((seq) => ({ topic: 'steps', key: 'a', value: envelope(seq) })));
      const safety = setTimeout(fake.stop, 10_000);
      const code = await tail;
      clearTimeout(safety);
      expect(code).toBe(0);
      expect(fake.stdout().trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: { data: { seq: number } } }).event.data.seq)).toEqual([0, 1, 2]);
      expect(fake.stderr()).toMatch(/following steps \(\d+ partitions\) from the beginning; Ctrl-C to stop\n$/);
    } finally {
      await app.close();
    }
  });

  it('refuses a data directory without its store file rather than create an empty one', async () => {
    const dataDir = join(dir, 'log-only');
    const app = await engineFromEnv({ HERALD_DATA_DIR: dataDir }, { logger: silentLogger });
    await app.broker.publish([{ topic: 'steps', key: 'a', value: envelope(0) }]);
    await app.close();
    for (const file of ['store.db', 'store.db-wal', 'store.db-shm']) rmSync(join(dataDir, file), { force: true });

    const fake = fakeIo();
    const code = await main(['dlq', 'list'], { ...fake.io, env: { HERALD_DATA_DIR: dataDir } });
    expect([code, fake.stdout()]).toEqual([EXIT_CODES.usage, '']);
    expect(fake.stderr()).toBe(
      `herald: no Herald engine in ${dataDir} (no store.db there): set HERALD_DATA_DIR to the app's data directory, or HERALD_KAFKA_BROKERS and DATABASE_URL for Kafka + PostgreSQL (no-engine)\n`,
    );
    expect(existsSync(join(dataDir, 'store.db'))).toBe(false);
  });
});
