import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { pgStores, type PgStores, type PgStoresOptions } from '../src/index.js';
import { MIGRATIONS } from '../src/internal/migrations.js';
import { tablesFor } from '../src/internal/tables.js';

/**
 * Starts one throwaway cluster for the calling test file (beforeAll/afterAll) and hands out fresh
 * databases and stores, all closed in afterAll.
 */
export function usePostgres() {
  let cluster: PostgresCluster | undefined;
  const opened: PgStores[] = [];
  let counter = 0;

  beforeAll(async () => {
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await cluster?.stop();
  });

  return {
    /** A new, empty database. */
    async database(): Promise<string> {
      if (!cluster) throw new Error('usePostgres: cluster not started');
      return cluster.createDatabase(`t${++counter}_${process.pid}`);
    },
    /** Stores on a new database (or on `url` when given). */
    async stores(options: Partial<PgStoresOptions> & { url?: string } = {}): Promise<PgStores> {
      const { url, ...rest } = options;
      const stores = pgStores({ connectionString: url ?? (await this.database()), ...rest });
      opened.push(stores);
      await stores.ready();
      return stores;
    },
  };
}

/** Polls `check` until it returns true or the deadline passes (integration tests only). */
export async function eventually(check: () => Promise<boolean>, options: { timeoutMs?: number; what: string }): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A pool on `url` that records the text of every statement its clients send, in order. */
export function spiedPool(url: string, max = 2): { pool: pg.Pool; sent: string[] } {
  const pool = new pg.Pool({ connectionString: url, max });
  const sent: string[] = [];
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text: string };
      sent.push(typeof first === 'string' ? first : first.text);
      return query(...args);
    };
  });
  return { pool, sent };
}

/** The rows `sql` returns, on a connection of its own. */
export async function rows<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Builds schema `herald` exactly as the migrations up to `version` left it. */
export async function schemaAt(url: string, version: number): Promise<void> {
  const t = tablesFor('herald');
  await rows(url, `CREATE SCHEMA herald; CREATE TABLE ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) {
    await rows(url, `${m.sql(t)}; INSERT INTO ${t.migrations} (version, name) VALUES (${m.version}, 'v${m.version}')`);
  }
}
