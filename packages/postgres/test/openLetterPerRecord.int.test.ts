import type { DeadLetter } from '@herald/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrate, pgStores } from '../src/index.js';
import { MIGRATIONS } from '../src/internal/migrations.js';
import { tablesFor } from '../src/internal/tables.js';
import { eventually, rows, schemaAt, usePostgres } from './support.js';

const pgs = usePostgres();
const t = tablesFor('herald');
const LATEST = MIGRATIONS.at(-1)!.version;

function letter(id: string, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    group: 'billing',
    handler: 'billing:OrderPlaced',
    eventId: 'e1',
    eventType: 'OrderPlaced',
    topic: 'orders',
    partition: 2,
    offset: 41,
    key: 'k',
    reason: 'handler-failed',
    fingerprint: 'fp',
    error: { name: 'Error', message: 'boom' },
    attempts: 3,
    firstFailureAt: 10,
    lastFailureAt: 20,
    envelope: '{"id":"e1"}',
    headers: {},
    policy: 'skip',
    status: 'dead',
    ...extra,
  };
}

describe('one open dead letter per record and group', () => {
  it('keeps an add out while another add of the record is uncommitted, answering with that letter once it commits', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url });
    // the same record failed in two consumers at once (a zombie after a rebalance): the other add's letter is not yet committed
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO ${t.deadLetters} (id, group_name, handler, event_id, event_type, topic, partition, record_offset, key, reason, fingerprint,
          error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status)
        VALUES ('other', 'billing', 'billing:OrderPlaced', 'e1', 'OrderPlaced', 'orders', 2, 41, 'k', 'handler-failed', 'fp', '{"name":"Error","message":"boom"}', 3, 10, 20,
          '{"id":"e1"}', '{}', 'skip', 'dead')`);
      let settled = false;
      const adding = stores.deadLetters.add(letter('mine')).finally(() => (settled = true));
      // the add either waits for the other transaction (on the unique index) or went past it
      const waiting = async () =>
        (await rows<{ n: string }>(url, `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0]!.n !== '0';
      await eventually(async () => settled || (await waiting()), { what: 'the add to wait or finish' });
      await other.query('COMMIT');
      expect(await adding, 'the letter committed first stands for the record').toMatchObject({ id: 'other' });
      expect((await stores.deadLetters.list()).map((l) => l.id)).toEqual(['other']);
    } finally {
      await other.end();
    }
  });

  it('upgrades a database holding a record twice: both letters stay open, the oldest answers for the record, new records get one letter', async () => {
    const url = await pgs.database();
    // the version before this one (16), which had no rule of one open letter per record
    await schemaAt(url, 15);
    // an earlier release dead-lettered the record again after a redelivery
    for (const id of ['first', 'second']) {
      await rows(url, `INSERT INTO ${t.deadLetters} (id, group_name, handler, event_id, event_type, topic, partition, record_offset, key, reason, fingerprint,
          error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status)
        VALUES ('${id}', 'billing', 'billing:OrderPlaced', 'e1', 'OrderPlaced', 'orders', 2, 41, 'k', 'handler-failed', 'fp', '{"name":"Error","message":"boom"}', 3, 10, 20,
          '{"id":"e1"}', '{}', 'skip', 'dead')`);
    }
    expect(await migrate({ connectionString: url })).toEqual({ applied: MIGRATIONS.map((m) => m.version).filter((v) => v > 15), version: LATEST });
    const stores = pgStores({ connectionString: url });
    try {
      const [first, second] = await stores.deadLetters.list();
      expect([first?.id, second?.id, second?.status]).toEqual(['first', 'second', 'dead']);
      expect(await stores.deadLetters.add(letter('third')), 'the oldest open letter stands for the record').toEqual(first);
      // once the oldest is resolved, the other accepted letter still stands for it
      await stores.deadLetters.setStatus(['first'], 'redriven');
      expect(await stores.deadLetters.add(letter('third'))).toEqual(second);
      // a new record: one letter, also under concurrent adds
      const added = await Promise.all(['n1', 'n2', 'n3'].map((id) => stores.deadLetters.add(letter(id, { offset: 42 }))));
      expect(added.filter((kept) => kept === undefined)).toHaveLength(1);
      expect((await stores.deadLetters.list()).map((l) => [l.id, l.status])).toEqual([['first', 'redriven'], ['second', 'dead'], [expect.any(String), 'dead']]);
    } finally {
      await stores.close();
    }
  });
});
