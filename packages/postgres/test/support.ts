import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { pgStores, type PgStores, type PgStoresOptions } from '../src/index.js';

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
