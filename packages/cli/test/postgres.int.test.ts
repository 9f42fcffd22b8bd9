import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, pgStores } from '@herald/postgres';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { EXIT_CODES, main } from '../src/index.js';
import { fakeIo } from './support.js';

// The CLI on Kafka + PostgreSQL, opened from the environment as the bin opens it. Only the stores
// are used here: the broker connects nothing until a command needs it.

/** No broker listens there; none is reached. */
const KAFKA = '127.0.0.1:43291';

async function heraldSchemaExists(url: string): Promise<boolean> {
  const stores = pgStores({ connectionString: url, migrate: false, maintenance: false });
  try {
    const [row] = await stores.transaction((tx) => tx.query<{ n: number }>("SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name = 'herald'"));
    return row!.n === 1;
  } finally {
    await stores.close();
  }
}

describe('herald on Kafka + PostgreSQL', () => {
  let cluster: PostgresCluster | undefined;
  beforeAll(async () => {
    // on a port of its own choosing (a free one, bound on 127.0.0.1)
    cluster = await startPostgresCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses a database without Herald schema, and creates none, rather than answer "nothing there"', async () => {
    const url = await cluster!.createDatabase('not_the_app');
    const fake = fakeIo();
    const code = await main(['dlq', 'list'], { ...fake.io, env: { HERALD_KAFKA_BROKERS: KAFKA, DATABASE_URL: url } });
    expect([code, fake.stdout()]).toEqual([EXIT_CODES.usage, '']);
    expect(fake.stderr()).toBe(
      `herald: no Herald schema in the PostgreSQL database 127.0.0.1:${cluster!.port}/not_the_app (no herald.schema_migrations table): set DATABASE_URL to the app's database, which its first start migrated (no-engine)\n`,
    );
    expect(await heraldSchemaExists(url)).toBe(false);

    // once the app migrated it, the same command reads it
    await migrate({ connectionString: url });
    const migrated = fakeIo();
    expect(await main(['dlq', 'list'], { ...migrated.io, env: { HERALD_KAFKA_BROKERS: KAFKA, DATABASE_URL: url } })).toBe(0);
    expect(migrated.stdout()).toBe('no dead letters match\n');
  });
});
