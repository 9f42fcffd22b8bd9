import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { foreignLettersSession } from './e2e/foreignLetters.js';
import { operatorSession } from './e2e/scenario.js';

// The real `herald` bin, spawned with node next to a running app, on both engines, configured the
// way the app is: HERALD_DATA_DIR, or HERALD_KAFKA_BROKERS + DATABASE_URL.

describe('herald on the embedded engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists, groups, redrives and discards dead letters, tails, reads lag and replays', { timeout: 180_000 }, async () => {
    await operatorSession({ env: { HERALD_DATA_DIR: join(dir, 'data') }, listsGroups: true });
  });
});

describe('herald on Kafka + PostgreSQL', () => {
  let mock: KafkaMock | undefined;
  let cluster: PostgresCluster | undefined;
  beforeAll(async () => {
    [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
  });
  afterAll(async () => {
    await Promise.all([mock?.stop(), cluster?.stop()]);
  });

  it('lists, groups, redrives and discards dead letters, tails, reads lag and replays', { timeout: 300_000 }, async () => {
    await operatorSession({
      env: {
        ...mock!.engineEnv,
        DATABASE_URL: await cluster!.createDatabase('cli_e2e'),
      },
      // the mock has no ListGroups: a client that never ran a group cannot list it
      listsGroups: false,
    });
  });

  it('records one letter for a NUL-keyed Confluent record a plain producer wrote, moves past it, and redrives its exact bytes', { timeout: 180_000 }, async () => {
    await foreignLettersSession(mock!, cluster!);
  });
});
