import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import { createApp, defineEvent, hasOutboxBacklog, jsonLogger } from '@herald/core';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { Type } from '@sinclair/typebox';
import type { PgStores } from '@herald/postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { engineFromEnv, openEngine, type Engine, type EngineFromEnvOptions } from '../src/index.js';

const Ping = defineEvent({ type: 'Ping', topic: 'engine-pings', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
const quiet: EngineFromEnvOptions = { logger: jsonLogger({ level: 'error' }), kafka: { clientLogLevel: 'silent', closeTimeoutMs: 3_000 } };
/** Runs a tiny app on the engine: 20 events through the outbox, the relay, the broker and a handler writing rows. */
async function roundTrip(engine: Engine): Promise<string[]> {
  await engine.stores.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS pings (id TEXT PRIMARY KEY)'));
  const app = createApp({
    broker: engine.broker,
    stores: engine.stores,
    ...(engine.relayHost ? { relayHost: engine.relayHost } : {}),
    events: [Ping],
    logger: jsonLogger({ level: 'error' }),
  });
  app.on(Ping, { group: 'engine-test' }, async (event, ctx) => {
    await ctx.tx.execute('INSERT INTO pings (id) VALUES ($1)', [event.data.id]);
  });
  try {
    await app.start();
    const ids = Array.from({ length: 20 }, (_, i) => `p-${i}`);
    for (const id of ids) await app.publish(Ping, { id });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await engine.stores.transaction((tx) => tx.query<{ id: string }>('SELECT id FROM pings ORDER BY id'));
      if (rows.length >= ids.length || Date.now() > deadline) return rows.map((r) => r.id);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await app.close();
  }
}

const expectedIds = Array.from({ length: 20 }, (_, i) => `p-${i}`).sort();

describe('engineFromEnv opens the embedded engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-engine-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('in HERALD_DATA_DIR, and runs an app end to end', async () => {
    const dataDir = join(dir, 'data');
    const engine = await engineFromEnv({ HERALD_DATA_DIR: dataDir }, quiet);
    expect(engine.kind).toBe('embedded');
    expect(engine.description).toBe(`embedded (${dataDir})`);
    expect(await roundTrip(engine)).toEqual(expectedIds);
    await engine.close();
    expect(existsSync(join(dataDir, 'log.db'))).toBe(true);
    expect(existsSync(join(dataDir, 'store.db'))).toBe(true);
  });

  it('in a relative HERALD_DATA_DIR, resolved once: the description names the absolute directory the files are in', async () => {
    const absolute = join(dir, 'relative');
    const engine = await engineFromEnv({ HERALD_DATA_DIR: relative(process.cwd(), absolute) }, quiet);
    try {
      expect(engine.description).toBe(`embedded (${absolute})`);
    } finally {
      await engine.close();
    }
    expect(existsSync(join(absolute, 'store.db'))).toBe(true);
  });

  it('from a configuration built in code: a relative dataDir is resolved the same way, an unexpanded one refused', async () => {
    const absolute = join(dir, 'in-code');
    const engine = await openEngine({ kind: 'embedded', dataDir: relative(process.cwd(), absolute) }, quiet);
    await engine.close();
    expect(engine.description).toBe(`embedded (${absolute})`);
    // `~/../<relative path>`: were it taken literally, the files would land in the temp directory, not in a `~` here
    const unexpanded = `~/../${relative(process.cwd(), join(dir, 'unexpanded'))}`;
    await expect(openEngine({ kind: 'embedded', dataDir: unexpanded }, quiet)).rejects.toMatchObject({ code: 'invalid-options', message: expect.stringMatching(/^engine configuration: dataDir is "~\/\.\.\/.*": no shell expanded its "~"/) });
    expect(existsSync(join(dir, 'unexpanded'))).toBe(false);
  });

  it.runIf(process.platform === 'linux')('that fails to open its stores: the log opened before them is closed, its checkpoint thread gone, when the error arrives', async () => {
    const dataDir = join(dir, 'stores-fail');
    mkdirSync(join(dataDir, 'store.db'), { recursive: true }); // a directory: SQLite cannot open it
    const threads = () => readdirSync('/proc/self/task').length;
    // threads that start once per process (libuv's pool, on first use) must not be counted as the log's
    await Promise.all([import('@herald/sqlite'), stat(dataDir)]);
    const before = threads();
    await expect(openEngine({ kind: 'embedded', dataDir }, quiet)).rejects.toMatchObject({ code: 'store-unavailable', message: expect.stringContaining('store.db') });
    expect(threads(), "the log's checkpoint thread has exited").toBe(before);
  });

  it('with every embedded option: relayThread gives the relay host createApp runs the relay on', async () => {
    const engine = await engineFromEnv({ HERALD_DATA_DIR: join(dir, 'threaded') }, { ...quiet, embedded: { relayThread: true } });
    try {
      expect(engine.relayHost).toBeDefined();
      expect(await roundTrip(engine)).toEqual(expectedIds);
    } finally {
      await engine.close();
    }
  });
});

describe('engineFromEnv merges the environment over the options', () => {
  // opening connects nothing, so unreachable addresses are fine here
  const env = { HERALD_KAFKA_BROKERS: '127.0.0.1:9', DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' };
  const poolMax = (engine: Engine) => ((engine.stores as PgStores).pool as unknown as { options: { max: number } }).options.max;

  it('keeps an option whose variable is unset, and takes the variable where it is set', async () => {
    const programmatic = await engineFromEnv(env, { ...quiet, postgres: { poolSize: 50 } });
    const overridden = await engineFromEnv({ ...env, HERALD_PG_POOL_SIZE: '3' }, { ...quiet, postgres: { poolSize: 50 } });
    try {
      expect(poolMax(programmatic)).toBe(50);
      expect(poolMax(overridden)).toBe(3);
    } finally {
      await Promise.all([programmatic.close(), overridden.close()]);
    }
  });

  it('and so does openEngine, for a configuration built in code with an undefined field', async () => {
    const config = { kind: 'kafka-postgres', kafka: { brokers: ['127.0.0.1:9'] }, postgres: { connectionString: env.DATABASE_URL, poolSize: undefined } } as const;
    const engine = await openEngine(config, { ...quiet, postgres: { poolSize: 50 } });
    try {
      expect(poolMax(engine)).toBe(50);
    } finally {
      await engine.close();
    }
  });
});

describe('openEngine with a configuration built in code', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a connection string that is not a URL before opening anything, never repeating it', async () => {
    // pg would take this string; URL does not, and its TypeError carries the whole input
    const connectionString = 'host=db dbname=app user=app password=s3cret';
    // the PostgreSQL stores start their retention timer when they open: none may be left behind
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const error: unknown = await openEngine({ kind: 'kafka-postgres', kafka: { brokers: ['127.0.0.1:9'] }, postgres: { connectionString } }, quiet).then(
      () => expect.unreachable(),
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'HeraldError', code: 'invalid-options', message: expect.stringContaining('postgres.connectionString is not a URL') });
    expect(inspect(error, { depth: 10 })).not.toContain('s3cret');
    expect(vi.getTimerCount()).toBe(0);
  });

  it.each([
    { fromEnv: { sessionTimeoutMs: 2000 }, fromCode: undefined, said: [/HERALD_KAFKA_SESSION_TIMEOUT_MS \(2000\)$/, /the heartbeat interval \(3000, the default; HERALD_KAFKA_HEARTBEAT_INTERVAL_MS sets it\) must be below/] },
    {
      fromEnv: { heartbeatIntervalMs: 5000 },
      fromCode: { sessionTimeoutMs: 4000 },
      said: [/^engine configuration: HERALD_KAFKA_HEARTBEAT_INTERVAL_MS \(5000\)/, /must be below the session timeout \(4000, set in code; HERALD_KAFKA_SESSION_TIMEOUT_MS sets it\)$/],
    },
  ])('refuses a heartbeat a variable put at or above the session timeout, naming the variable ($fromEnv, code $fromCode)', async ({ fromEnv, fromCode, said }) => {
    const config = { kind: 'kafka-postgres', kafka: { brokers: ['127.0.0.1:9'], group: fromEnv }, postgres: { connectionString: 'postgres://127.0.0.1:9/none' } } as const;
    const error: unknown = await openEngine(config, { ...quiet, ...(fromCode ? { kafka: { group: fromCode } } : {}) }).then(
      () => expect.unreachable(),
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'HeraldError', code: 'invalid-options' });
    for (const message of said) expect((error as Error).message).toMatch(message);
  });
});

describe('engineFromEnv opens Kafka + PostgreSQL', () => {
  let mock: KafkaMock | undefined;
  let cluster: PostgresCluster | undefined;
  let engine: Engine | undefined;
  beforeAll(async () => {
    [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  });
  afterAll(async () => {
    await engine?.close();
    await Promise.all([mock?.stop(), cluster?.stop()]);
  });

  it('when HERALD_KAFKA_BROKERS and DATABASE_URL are set, and runs the same app end to end', { timeout: 90_000 }, async () => {
    const url = await cluster!.createDatabase('engine_test');
    const withPassword = url.replace('postgres@', 'postgres:not-shown@');
    engine = await engineFromEnv({ ...mock!.engineEnv, DATABASE_URL: withPassword, HERALD_PG_POOL_SIZE: '3' }, quiet);
    expect(engine.kind).toBe('kafka-postgres');
    expect(engine.description).toBe(`kafka (${mock!.brokers.join(',')}) + postgresql (127.0.0.1:${cluster!.port}/engine_test)`);
    expect(await roundTrip(engine)).toEqual(expectedIds);
    // the stores really are PostgreSQL's: Herald's tables live in the `herald` schema there
    const reopened = await engineFromEnv({ ...mock!.engineEnv, DATABASE_URL: url }, quiet);
    try {
      const written = await reopened.stores.transaction((tx) => tx.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM herald.outbox WHERE type = 'Ping'"));
      expect(written).toEqual([{ n: 20 }]);
      // and all of it was relayed: nothing waits in the outbox
      expect(hasOutboxBacklog(reopened.stores.outbox) && (await reopened.stores.outbox.backlog())).toEqual([]);
    } finally {
      await reopened.close();
    }
  });
});

describe('engineFromEnv loads only the selected adapters', () => {
  const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'loadedModules.ts');
  const dir = mkdtempSync(join(tmpdir(), 'herald-engine-lazy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const probe = async (env: Record<string, string>) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', fixture, JSON.stringify(env)], { timeout: 30_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  };

  it('the embedded engine never loads kafkajs or pg; the Kafka + PostgreSQL engine never loads better-sqlite3', async () => {
    const [embedded, scaled] = await Promise.all([
      probe({ HERALD_DATA_DIR: join(dir, 'data') }),
      // opening connects nothing, so unreachable addresses are fine here
      probe({ HERALD_KAFKA_BROKERS: '127.0.0.1:9', DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' }),
    ]);
    expect(embedded).toEqual({ kind: 'embedded', kafkajs: false, pg: false, betterSqlite3: true });
    expect(scaled).toEqual({ kind: 'kafka-postgres', kafkajs: true, pg: true, betterSqlite3: false });
  });
});
