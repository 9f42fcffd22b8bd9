import { createManualClock, type Logger } from '@herald/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { usePostgres } from './support.js';

const pgs = usePostgres();

/** A logger that keeps its warnings. */
function warningsLogger(): Logger & { warnings: { message: string; fields?: Record<string, unknown> }[] } {
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger = { warnings, debug() {}, info() {}, error() {}, warn: (message: string, fields?: Record<string, unknown>) => void warnings.push({ message, fields }), child: () => logger };
  return logger;
}

const record = (id: string) => ({ id, topic: 'orders', key: 'k', type: 'T', correlationId: 'c', value: '{}', headers: {}, createdAt: 1 });
const claim = { relayId: 'r', limit: 10, leaseMs: 10_000 };

describe('outbox holdback', () => {
  it('warns, naming it, when a long transaction in another database holds committed records back, at most once a minute', async () => {
    const clock = createManualClock(Date.now());
    const logger = warningsLogger();
    const stores = await pgs.stores({ clock, logger, maintenance: false });
    // an empty outbox, however long the relay polls, is no stall
    expect(await stores.outbox.claim(claim)).toEqual([]);
    await clock.advance(40_000);
    expect(await stores.outbox.claim(claim)).toEqual([]);
    expect(logger.warnings).toEqual([]);

    const other = await pgs.database();
    const batchJob = new pg.Client({ connectionString: other, application_name: 'nightly-batch' });
    await batchJob.connect();
    try {
      await batchJob.query('BEGIN');
      await batchJob.query('CREATE TABLE scratch (a int)');
      const { rows } = await batchJob.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await stores.transaction((tx) => stores.outbox.append(tx, [record('held')]));
      // held back, but not for long yet
      await clock.advance(10_000);
      expect(await stores.outbox.claim(claim)).toEqual([]);
      expect(logger.warnings).toEqual([]);
      await clock.advance(30_000);
      expect(await stores.outbox.claim(claim)).toEqual([]);
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]!.message).toContain(`pid ${rows[0]!.pid} in database ${new URL(other).pathname.slice(1)}`);
      expect(logger.warnings[0]!.fields).toMatchObject({ pid: rows[0]!.pid, application: 'nightly-batch', state: 'idle in transaction', heldForMs: 30_000 });
      // rate-limited while it lasts
      await clock.advance(30_000);
      expect(await stores.outbox.claim(claim)).toEqual([]);
      expect(logger.warnings).toHaveLength(1);
      await clock.advance(30_000);
      expect(await stores.outbox.claim(claim)).toEqual([]);
      expect(logger.warnings).toHaveLength(2);
      await batchJob.query('COMMIT');
    } finally {
      await batchJob.end();
    }
    expect((await stores.outbox.claim(claim)).map((r) => r.id)).toEqual(['held']);
  });
});
