import { engineFromEnv } from '@herald/engine';

/** Read access to the example's tables for assertions, through the engine the services run on. */
export interface Tables {
  /** The first column of the first row, as a number. */
  count(sql: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens the example's tables once (the embedded data directory, or PostgreSQL): `env` is the
 * services' engine environment. Close it before the engine's servers stop.
 */
export async function openTables(env: Record<string, string>): Promise<Tables> {
  const engine = await engineFromEnv({ HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', ...env });
  return {
    async count(sql, params = []) {
      const rows = await engine.stores.transaction((tx) => tx.query<Record<string, number | string>>(sql, params));
      return Number(Object.values(rows[0] ?? {})[0] ?? 0);
    },
    close: () => engine.close(),
  };
}
