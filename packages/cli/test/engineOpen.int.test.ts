import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@herald/core';
import { engineFromEnv } from '@herald/engine';
import { migrate } from '@herald/postgres';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { EXIT_CODES, main } from '../src/index.js';
import { fakeIo } from './support.js';

// Where the configuration points at no Herald engine, or at one the CLI must not change, and an
// engine that is down: what the CLI opens from the environment, as the bin does.

async function herald(argv: readonly string[], env: Record<string, string>) {
  const fake = fakeIo();
  const code = await main(argv, { ...fake.io, env });
  return { code, stdout: fake.stdout(), stderr: fake.stderr() };
}

/** The schema version of `component` in the SQLite file at `path`. */
function schemaVersion(path: string, component: string): number | undefined {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[string], { version: number }>('SELECT version FROM herald_schema_version WHERE component = ?').get(component)?.version;
  } finally {
    db.close();
  }
}

const NOT_THERE = "set HERALD_DATA_DIR to the app's data directory, or HERALD_KAFKA_BROKERS and DATABASE_URL for Kafka + PostgreSQL (no-engine)\n";

describe('herald on embedded files it must not open or change', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A data directory the app started in once (both files at this version's schema). */
  async function appDir(name: string): Promise<string> {
    const dataDir = join(dir, name);
    await (await engineFromEnv({ HERALD_DATA_DIR: dataDir }, { logger: silentLogger })).close();
    return dataDir;
  }

  it('refuses empty files, and leaves them empty', async () => {
    const dataDir = join(dir, 'empty');
    mkdirSync(dataDir);
    for (const file of ['log.db', 'store.db']) writeFileSync(join(dataDir, file), '');
    const run = await herald(['dlq', 'list'], { HERALD_DATA_DIR: dataDir });
    expect([run.code, run.stdout, run.stderr]).toEqual([EXIT_CODES.usage, '', `herald: no Herald engine in ${dataDir} (log.db there is empty): ${NOT_THERE}`]);
    expect(['log.db', 'store.db'].map((file) => statSync(join(dataDir, file)).size)).toEqual([0, 0]);
  });

  it('refuses a file that is no SQLite database', async () => {
    const dataDir = await appDir('garbage');
    writeFileSync(join(dataDir, 'store.db'), 'not a database at all, just text');
    const run = await herald(['dlq', 'list'], { HERALD_DATA_DIR: dataDir });
    expect([run.code, run.stderr]).toEqual([EXIT_CODES.usage, `herald: no Herald engine in ${dataDir} (store.db there is no SQLite database): ${NOT_THERE}`]);
  });

  it('refuses a SQLite database without Herald tables, and creates none in it', async () => {
    const dataDir = await appDir('foreign');
    // a SQLite file, but one holding the log's tables only: no store tables
    copyFileSync(join(dataDir, 'log.db'), join(dataDir, 'store.db'));
    rmSync(join(dataDir, 'store.db-wal'), { force: true });
    rmSync(join(dataDir, 'store.db-shm'), { force: true });
    const run = await herald(['dlq', 'list'], { HERALD_DATA_DIR: dataDir });
    expect([run.code, run.stdout, run.stderr]).toEqual([EXIT_CODES.usage, '', `herald: no Herald engine in ${dataDir} (store.db there has no Herald tables): ${NOT_THERE}`]);
    expect(schemaVersion(join(dataDir, 'store.db'), 'stores')).toBeUndefined();
  });

  it('refuses files at an older schema rather than migrate them, and reads files at its own', async () => {
    const dataDir = await appDir('older');
    const store = join(dataDir, 'store.db');
    const current = schemaVersion(store, 'stores')!;
    // as an older app left it: the CLI must not upgrade it under the app's feet
    const db = new Database(store);
    db.prepare("UPDATE herald_schema_version SET version = ? WHERE component = 'stores'").run(current - 1);
    db.close();
    const older = await herald(['dlq', 'list'], { HERALD_DATA_DIR: dataDir });
    expect([older.code, older.stdout]).toEqual([EXIT_CODES.failure, '']);
    expect(older.stderr).toBe(
      `herald: the app's store.db in ${dataDir} has an older schema (version ${current - 1}) than this herald knows (${current}), and the CLI never migrates: run the herald of the app's version, or start the app's new version first (store-not-migrated)\n`,
    );
    expect(schemaVersion(store, 'stores')).toBe(current - 1);

    const fresh = await appDir('current');
    const run = await herald(['dlq', 'list'], { HERALD_DATA_DIR: fresh });
    expect([run.code, run.stdout, run.stderr]).toEqual([0, 'no dead letters match\n', '']);
  });

  it('reads HERALD_LOG_LEVEL as the app does: any case taken, a value the app refuses refused', async () => {
    const dataDir = await appDir('levels');
    const upper = await herald(['dlq', 'list'], { HERALD_DATA_DIR: dataDir, HERALD_LOG_LEVEL: 'WARN' });
    expect([upper.code, upper.stdout, upper.stderr]).toEqual([0, 'no dead letters match\n', '']);
    const typo = await herald(['dlq', 'list'], { HERALD_DATA_DIR: dataDir, HERALD_LOG_LEVEL: 'verbose' });
    expect([typo.code, typo.stdout, typo.stderr]).toEqual([
      EXIT_CODES.usage,
      '',
      'herald: HERALD_LOG_LEVEL must be one of debug, info, warn, error, silent, got "verbose" (invalid-options)\n',
    ]);
  });
});

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('herald on Kafka + PostgreSQL that is not there', () => {
  let cluster: PostgresCluster | undefined;
  beforeAll(async () => {
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses a DATABASE_URL naming a database the server does not have (no-engine)', async () => {
    const url = new URL(await cluster!.createDatabase('app'));
    url.pathname = '/apq';
    const run = await herald(['dlq', 'list'], { HERALD_KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`, DATABASE_URL: url.toString() });
    expect([run.code, run.stdout, run.stderr]).toEqual([
      EXIT_CODES.usage,
      '',
      `herald: no PostgreSQL database 127.0.0.1:${cluster!.port}/apq (the server has none of that name): set DATABASE_URL to the app's database (no-engine)\n`,
    ]);
  });

  it("prints one line when Kafka is down, not the Kafka client's log of every retry, unless HERALD_LOG_LEVEL asks", { timeout: 90_000 }, async () => {
    const url = await cluster!.createDatabase('migrated');
    await migrate({ connectionString: url });
    const env = { HERALD_KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`, DATABASE_URL: url };
    const run = await herald(['topics'], env);
    expect([run.code, run.stdout]).toEqual([EXIT_CODES.failure, '']);
    expect(run.stderr).toMatch(/^herald: kafka: connecting the admin client failed: .*ECONNREFUSED.* \(broker-unavailable\)\n$/);

    const asked = await herald(['topics'], { ...env, HERALD_LOG_LEVEL: 'error' });
    const lines = asked.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.slice(0, -1).every((line) => (JSON.parse(line) as { source: string }).source === 'kafkajs')).toBe(true);
  });
});
