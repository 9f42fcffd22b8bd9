import { engineFromEnv } from '@herald/engine';

/**
 * Reads one number from the example's tables, through the engine the services run on (the
 * embedded data directory, or PostgreSQL): `env` is the services' engine environment.
 */
export async function countRows(env: Record<string, string>, sql: string, params: unknown[] = []): Promise<number> {
  const engine = await engineFromEnv({ HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', ...env });
  try {
    const rows = await engine.stores.transaction((tx) => tx.query<Record<string, number | string>>(sql, params));
    return Number(Object.values(rows[0] ?? {})[0] ?? 0);
  } finally {
    await engine.close();
  }
}
