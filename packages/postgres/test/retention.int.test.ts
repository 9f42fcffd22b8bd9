import { createManualClock, silentLogger, type DeadLetter, type DeadLetterStatus, type Logger } from '@herald/core';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pgStores, type PgStores } from '../src/index.js';
import { purgeResolvedDeadLetters } from '../src/internal/deadLetters/purgeResolvedDeadLetters.js';
import { sweepInbox } from '../src/internal/inbox/sweepInbox.js';
import { purgeSagas } from '../src/internal/sagas/purgeSagas.js';
import { tablesFor } from '../src/internal/tables.js';
import { eventually, spiedPool, usePostgres } from './support.js';

const pgs = usePostgres();
const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2030, 0, 1);
/** Rows one retention statement deletes at most (src/internal/chunks.ts). */
const CHUNK = 5000;
const DISCARDED: DeadLetterStatus = 'discarded';

function letter(id: string, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    group: 'payments',
    handler: 'payments:OrderCreated',
    eventId: `ev-${id}`,
    eventType: 'OrderCreated',
    topic: 'orders',
    partition: 0,
    offset: 1,
    key: `key-${id}`,
    reason: 'handler-failed',
    fingerprint: '0123456789abcdef',
    error: { name: 'Error', message: 'declined' },
    attempts: 3,
    // failed long before anything else in these tests: age of failure never decides a purge
    firstFailureAt: 1,
    lastFailureAt: 2,
    envelope: '{}',
    headers: {},
    policy: 'skip',
    status: 'dead',
    ...extra,
  };
}

const count = async (stores: PgStores, sql: string) => Number((await stores.transaction((tx) => tx.query<{ n: string | number }>(sql)))[0]!.n);

/** Old rows in every table, written directly: `n` of each, all past any retention (saga instances finished or awaiting their start). */
async function insertOldRows(stores: PgStores, n: { outbox?: number; inbox?: number; deadLetters?: number; idempotency?: number; sagas?: number }) {
  await stores.transaction(async (tx) => {
    // published_at is stamped by the database clock: 0 is long past whatever now() is
    await tx.execute(`INSERT INTO herald.outbox (id, topic, key, type, correlation_id, value, headers, created_at, published_at)
      SELECT 'o' || i, 'orders', 'k' || i, 'T', 'c', 'v', '{}', 0, 0 FROM generate_series(1, $1::int) AS i`, [n.outbox ?? 0]);
    await tx.execute(`INSERT INTO herald.inbox (event_id, group_name, handled_at)
      SELECT 'e' || i, 'g', i FROM generate_series(1, $1::int) AS i`, [n.inbox ?? 0]);
    await tx.execute(`INSERT INTO herald.dead_letters (id, group_name, handler, topic, partition, record_offset, key, reason, error, attempts,
        first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
      SELECT 'd' || i, 'g', 'h', 'orders', 0, i, 'k' || i, 'r', '{}', 1, 0, 0, '{}', '{}', 'skip', 'discarded', i FROM generate_series(1, $1::int) AS i`, [n.deadLetters ?? 0]);
    await tx.execute(`INSERT INTO herald.idempotency_keys (key, fingerprint, state, response, created_at, expires_at)
      SELECT 'i' || i, 'f', 'completed', NULL, 0, i FROM generate_series(1, $1::int) AS i`, [n.idempotency ?? 0]);
    await tx.execute(`INSERT INTO herald.sagas (saga, instance_id, status, version, state, created_at, updated_at)
      SELECT 'order', 's' || i, (ARRAY['completed', 'failed'])[i % 2 + 1], 1, '{}', 0, i FROM generate_series(1, $1::int) AS i`, [n.sagas ?? 0]);
  });
}

describe('retention', () => {
  it('sweeps inbox marks older than the retention; a duplicate within it is still recognised', async () => {
    const clock = createManualClock(T0);
    const stores = await pgs.stores({ clock });
    const mark = (eventId: string) => stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId, handledAt: clock.now() }));
    expect(await mark('old')).toBe(true);
    await clock.advance(6 * DAY);
    expect(await mark('young')).toBe(true);
    await clock.advance(2 * DAY); // old is 8 days old, young 2: the default retention is 7 days

    expect(await stores.sweepRetention()).toEqual({ outbox: 0, inbox: 1, deadLetters: 0, idempotency: 0, sagas: 0 });
    expect((await stores.inbox.findHandled(['old', 'young'])).map((m) => m.eventId)).toEqual(['young']);
    expect(await mark('young')).toBe(false);
    // past the retention a duplicate is no longer recognised: that is what the retention trades away
    expect(await mark('old')).toBe(true);
    expect((await stores.sweepRetention()).inbox).toBe(0);
  });

  it('purges resolved dead letters by when they were resolved; dead and parked ones stay whatever their age', async () => {
    const clock = createManualClock(T0);
    const stores = await pgs.stores({ clock });
    const { deadLetters } = stores;
    for (const id of ['dead', 'redriven', 'discarded', 'again', 'flipped', 'young']) await deadLetters.add(letter(id));
    await deadLetters.add(letter('parked', { status: 'parked', policy: 'park-key' }));
    await deadLetters.add(letter('added-redriven', { status: 'redriven' }));
    await deadLetters.setStatus(['redriven', 'again', 'flipped'], 'redriven');
    await deadLetters.setStatus(['discarded'], DISCARDED);
    await clock.advance(1000);
    await deadLetters.setStatus(['flipped'], 'dead'); // back to unresolved: nothing to purge any more
    await clock.advance(25 * DAY);
    await deadLetters.setStatus(['young'], 'redriven');
    await clock.advance(4 * DAY);
    // set again to the status it has: it still counts from when it was resolved
    await deadLetters.setStatus(['again'], 'redriven');
    await deadLetters.add(letter('added-redriven', { status: 'redriven', attempts: 9 }));
    await clock.advance(1 * DAY); // 30 days and a bit after T0; young resolved 5 days ago

    expect((await stores.sweepRetention()).deadLetters).toBe(4);
    const left = await deadLetters.list();
    expect(left.map((l) => [l.id, l.status])).toEqual([
      ['dead', 'dead'],
      ['flipped', 'dead'],
      ['young', 'redriven'],
      ['parked', 'parked'],
    ]);
    await clock.advance(365 * DAY);
    expect((await stores.sweepRetention()).deadLetters).toBe(1);
    expect((await deadLetters.list()).map((l) => l.id)).toEqual(['dead', 'flipped', 'parked']);
  });

  it('purges expired idempotency records by the injected clock', async () => {
    const clock = createManualClock(T0);
    const stores = await pgs.stores({ clock });
    await stores.idempotency.begin({ key: 'short', fingerprint: 'f', now: clock.now(), ttlMs: 1000 });
    await stores.idempotency.begin({ key: 'long', fingerprint: 'f', now: clock.now(), ttlMs: DAY });
    await clock.advance(1000);
    expect((await stores.sweepRetention()).idempotency).toBe(1);
    expect(await stores.idempotency.begin({ key: 'long', fingerprint: 'f', now: clock.now(), ttlMs: DAY })).toEqual({ outcome: 'in-flight' });
  });

  it('deletes in bounded chunks, so a large backlog never goes in one statement', async () => {
    const url = await pgs.database();
    const { pool, sent } = spiedPool(url, 4);
    const stores = pgStores({ pool });
    try {
      await stores.ready();
      await insertOldRows(stores, { outbox: CHUNK + 1, inbox: 2 * CHUNK + 1, deadLetters: CHUNK, idempotency: CHUNK - 1, sagas: 2 * CHUNK + 1 });
      // rows the sweep must keep, mixed in: unpublished and recently published records, fresh marks,
      // open letters, old running instances and old ones awaiting their start (they hold events)
      await stores.transaction(async (tx) => {
        await tx.execute(`INSERT INTO herald.sagas (saga, instance_id, status, version, state, created_at, updated_at)
          SELECT 'order', 'running-' || i, 'running', 1, '{}', 0, i FROM generate_series(1, 10) AS i`);
        await tx.execute(`INSERT INTO herald.sagas (saga, instance_id, status, version, state, created_at, updated_at)
          SELECT 'order', 'waiting-' || i, 'awaiting-start', 1, '{}', 0, i FROM generate_series(1, 5) AS i`);
        await tx.execute(`INSERT INTO herald.outbox (id, topic, key, type, correlation_id, value, headers, created_at, published_at)
          VALUES ('pending', 'orders', 'k', 'T', 'c', 'v', '{}', 0, NULL), ('recent', 'orders', 'k', 'T', 'c', 'v', '{}', 0, (extract(epoch from now()) * 1000)::bigint)`);
        await stores.inbox.markHandled(tx, { group: 'g', eventId: 'fresh', handledAt: Date.now() });
      });
      await stores.deadLetters.add(letter('open'));
      sent.length = 0;

      expect(await stores.sweepRetention()).toEqual({ outbox: CHUNK + 1, inbox: 2 * CHUNK + 1, deadLetters: CHUNK, idempotency: CHUNK - 1, sagas: 2 * CHUNK + 1 });
      const deletes = (table: string) => sent.filter((text) => text.includes(`DELETE FROM "herald"."${table}"`)).length;
      // a full chunk is followed by another statement; the first short one ends the table's sweep
      expect([deletes('outbox'), deletes('inbox'), deletes('dead_letters'), deletes('idempotency_keys'), deletes('sagas')]).toEqual([2, 3, 2, 1, 3]);
      expect(await count(stores, `SELECT count(*) AS n FROM herald.outbox`)).toBe(2);
      expect((await stores.inbox.findHandled(['fresh', 'e1'])).map((m) => m.eventId)).toEqual(['fresh']);
      expect((await stores.deadLetters.list()).map((l) => l.id)).toEqual(['open']);
      expect(await count(stores, `SELECT count(*) AS n FROM herald.sagas`)).toBe(15);
    } finally {
      await stores.close();
      await pool.end();
    }
  });

  it('reads the cutoff from an index, oldest rows first', async () => {
    const stores = await pgs.stores();
    await stores.transaction(async (tx) => {
      await tx.execute(`INSERT INTO herald.inbox (event_id, group_name, handled_at) SELECT 'e' || i, 'g', i FROM generate_series(1, 50000) AS i`);
      await tx.execute(`INSERT INTO herald.dead_letters (id, group_name, handler, topic, partition, record_offset, key, reason, error, attempts,
          first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
        SELECT 'd' || i, 'g', 'h', 'orders', 0, i, 'k' || i, 'r', '{}', 1, 0, 0, '{}', '{}', 'skip', CASE WHEN i % 2 = 0 THEN 'redriven' ELSE 'dead' END,
          CASE WHEN i % 2 = 0 THEN i END
        FROM generate_series(1, 50000) AS i`);
      await tx.execute(`INSERT INTO herald.sagas (saga, instance_id, status, version, state, created_at, updated_at)
        SELECT 'saga-' || i % 5, 's' || i, (ARRAY['running', 'completed', 'failed', 'awaiting-start'])[i % 4 + 1], 1, '{}', 0, i FROM generate_series(1, 50000) AS i`);
      await tx.execute('ANALYZE herald.inbox');
      await tx.execute('ANALYZE herald.dead_letters');
      await tx.execute('ANALYZE herald.sagas');
    });
    const t = tablesFor('herald');
    const plan = async (statement: { text: string; values?: unknown[] }) =>
      (await stores.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, statement.values)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const inboxPlan = await plan(sweepInbox(t, { cutoff: 100, limit: CHUNK }));
    expect(inboxPlan).toMatch(/Tid Scan/);
    expect(inboxPlan).toMatch(/Index Scan using inbox_handled_at/);
    const lettersPlan = await plan(purgeResolvedDeadLetters(t, { cutoff: 100, limit: CHUNK }));
    expect(lettersPlan).toMatch(/Tid Scan/);
    expect(lettersPlan).toMatch(/Index Scan using dead_letters_resolved/);
    // sagas_status leads with the saga's name: only the partial index reads the sweep's rows oldest first
    const sagasPlan = await plan(purgeSagas(t, { cutoff: 100, limit: CHUNK }));
    expect(sagasPlan).toMatch(/Tid Scan/);
    expect(sagasPlan).toMatch(/Index Scan using sagas_finished/);
  });

  it('skips rows another transaction holds instead of waiting, and takes them in a later sweep', async () => {
    const url = await pgs.database();
    const stores = await pgs.stores({ url });
    await insertOldRows(stores, { inbox: 10, deadLetters: 10, sagas: 10 });
    const rival = new pg.Client({ connectionString: url });
    await rival.connect();
    try {
      await rival.query('BEGIN');
      await rival.query(`SELECT 1 FROM herald.inbox WHERE event_id = 'e1' FOR UPDATE`);
      await rival.query(`UPDATE herald.dead_letters SET attempts = 2 WHERE id = 'd1'`);
      // a saga's handler holds the instance it loaded (FOR UPDATE) until its transaction ends
      await rival.query(`SELECT 1 FROM herald.sagas WHERE saga = 'order' AND instance_id = 's1' FOR UPDATE`);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the sweep waited for a row another transaction holds')), 10_000);
      });
      const swept = await Promise.race([stores.sweepRetention(), waited]).finally(() => clearTimeout(timer));
      expect(swept).toMatchObject({ inbox: 9, deadLetters: 9, sagas: 9 });
      await rival.query('COMMIT');
      expect(await stores.sweepRetention()).toMatchObject({ inbox: 1, deadLetters: 1, sagas: 1 });
    } finally {
      await rival.end();
    }
  });

  it('lets sweeps in several processes run at once: all succeed, and each row is deleted once', async () => {
    const url = await pgs.database();
    const a = await pgs.stores({ url });
    const b = await pgs.stores({ url });
    const c = await pgs.stores({ url });
    const old = { outbox: 2 * CHUNK, inbox: 4 * CHUNK + 7, deadLetters: 2 * CHUNK + 3, idempotency: 2 * CHUNK, sagas: 2 * CHUNK + 5 };
    await insertOldRows(a, old);
    const results = await Promise.all([a.sweepRetention(), b.sweepRetention(), c.sweepRetention()]);
    const total = (key: keyof typeof old) => results.reduce((sum, r) => sum + r[key], 0);
    expect({ outbox: total('outbox'), inbox: total('inbox'), deadLetters: total('deadLetters'), idempotency: total('idempotency'), sagas: total('sagas') }).toEqual(old);
    expect(await a.sweepRetention()).toEqual({ outbox: 0, inbox: 0, deadLetters: 0, idempotency: 0, sagas: 0 });
  });

  it('runs one sweep at a time per stores: asking during a sweep joins it', async () => {
    const stores = await pgs.stores();
    await insertOldRows(stores, { inbox: 3 });
    const first = stores.sweepRetention();
    const second = stores.sweepRetention();
    expect(second).toBe(first);
    expect((await second).inbox).toBe(3);
    expect(stores.sweepRetention()).not.toBe(first);
  });
});

describe('the periodic sweep', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs every sweepIntervalMs on an unref timer, and close() stops it', async () => {
    // only setInterval is faked: the driver's own timers run as usual
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const setInterval = vi.spyOn(globalThis, 'setInterval');
    const warnings: unknown[] = [];
    const logger: Logger = { ...silentLogger, warn: (message, fields) => warnings.push({ message, fields }) };
    const clock = createManualClock(T0);
    const stores = pgStores({ connectionString: await pgs.database(), clock, logger, sweepIntervalMs: 30_000 });
    try {
      await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId: 'old', handledAt: clock.now() }));
      await clock.advance(8 * DAY);
      expect(vi.getTimerCount()).toBe(1);
      const timer = setInterval.mock.results.find((_, i) => setInterval.mock.calls[i]![1] === 30_000)?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false); // an idle process with open stores may still exit
      vi.advanceTimersByTime(29_999);
      expect(await stores.inbox.findHandled(['old'])).toHaveLength(1);
      vi.advanceTimersByTime(1);
      await eventually(async () => (await stores.inbox.findHandled(['old'])).length === 0, { what: 'the periodic sweep' });
    } finally {
      await stores.close();
    }
    expect(vi.getTimerCount()).toBe(0);
    // a tick after close would sweep closed stores and log the failure
    vi.advanceTimersByTime(10 * 30_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([]);
  });

  it('does not run with maintenance off (a tool beside the app); sweepRetention() still does', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = createManualClock(T0);
    const stores = pgStores({ connectionString: await pgs.database(), clock, logger: silentLogger, sweepIntervalMs: 30_000, maintenance: false });
    try {
      await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId: 'old', handledAt: clock.now() }));
      await clock.advance(8 * DAY);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10 * 30_000);
      expect(await stores.inbox.findHandled(['old'])).toHaveLength(1);
      expect((await stores.sweepRetention()).inbox).toBe(1);
    } finally {
      await stores.close();
    }
  });
});
