import type { DeadLetter } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { pgStores } from '../src/index.js';
import { isKeyParked } from '../src/internal/deadLetters/isKeyParked.js';
import { listDeadLetters } from '../src/internal/deadLetters/listDeadLetters.js';
import { tablesFor } from '../src/internal/tables.js';
import { spiedPool, usePostgres } from './support.js';

const pgs = usePostgres();

function letter(id: string, extra: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    group: 'payments',
    handler: 'payments:OrderCreated',
    eventId: `ev-${id}`,
    eventType: 'OrderCreated',
    topic: 'orders',
    partition: 3,
    offset: 2 ** 40,
    key: 'order-1',
    reason: 'handler-failed',
    fingerprint: '0123456789abcdef',
    error: { name: 'Error', message: 'card declined', stack: 'Error: card declined\n    at x', details: { code: 7 } },
    attempts: 5,
    firstFailureAt: 1_700_000_000_000,
    lastFailureAt: 1_700_000_004_000,
    envelope: '{"id":"ev","type":"OrderCreated","data":{"b":1,"a":2}}',
    headers: { traceparent: '00-abc-def-01' },
    policy: 'park-key',
    status: 'dead',
    ...extra,
  };
}

describe('inbox', () => {
  it('marks once per group and event, and concurrent marks of one event let exactly one through', async () => {
    const stores = await pgs.stores();
    expect(await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g1', eventId: 'e1', handledAt: 10 }))).toBe(true);
    expect(await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g1', eventId: 'e1', handledAt: 11 }))).toBe(false);
    expect(await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g2', eventId: 'e1', handledAt: 12 }))).toBe(true);
    const racing = await Promise.all(
      Array.from({ length: 8 }, () =>
        stores.transaction(async (tx) => {
          const first = await stores.inbox.markHandled(tx, { group: 'g1', eventId: 'e2', handledAt: 20 });
          if (first) await tx.execute('SELECT pg_sleep(0.05)');
          return first;
        }),
      ),
    );
    expect(racing.filter(Boolean)).toHaveLength(1);
    const marks = await stores.inbox.findHandled(['e1', 'e2', 'unknown']);
    expect(marks).toEqual([
      { group: 'g1', eventId: 'e1', handledAt: 10 },
      { group: 'g2', eventId: 'e1', handledAt: 12 },
      { group: 'g1', eventId: 'e2', handledAt: 20 },
    ]);
    expect(await stores.inbox.findHandled([])).toEqual([]);
  });

  it('answers marks made together in one transaction with one statement, each as if alone', async () => {
    const { pool, sent } = spiedPool(await pgs.database());
    const stores = pgStores({ pool });
    try {
      expect(await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId: 'old', handledAt: 1 }))).toBe(true);
      sent.length = 0;
      const answers = await stores.transaction((tx) =>
        // what batched handlers do: every mark asked for before the first reaches the server
        Promise.all(
          [
            { group: 'g', eventId: 'n2', handledAt: 2 },
            { group: 'g', eventId: 'old', handledAt: 2 },
            { group: 'g', eventId: 'n1', handledAt: 2 },
            { group: 'h', eventId: 'old', handledAt: 2 },
            { group: 'g', eventId: 'n1', handledAt: 3 },
          ].map((entry) => stores.inbox.markHandled(tx, entry)),
        ),
      );
      // new, already marked, new, new in another group, the same event twice: new only the first time
      expect(answers).toEqual([true, false, true, true, false]);
      expect(sent.filter((text) => text.includes('INSERT INTO'))).toHaveLength(1);
      const marks = await stores.inbox.findHandled(['n1', 'n2', 'old']);
      expect(new Set(marks.map((m) => `${m.group}/${m.eventId}/${m.handledAt}`))).toEqual(new Set(['g/n1/2', 'g/n2/2', 'g/old/1', 'h/old/2']));
    } finally {
      await stores.close();
      await pool.end();
    }
  });
});

describe('dead letters', () => {
  it('keeps every field of a letter as given, and lists in the order added with filters', async () => {
    const stores = await pgs.stores();
    const a = letter('a');
    const b = letter('b', { group: 'tickets', handler: 'tickets:PaymentAuthorized', key: 'order-2', policy: 'skip', eventId: null, eventType: null });
    const c = letter('c', { key: 'order-2' });
    for (const l of [a, b, c]) await stores.deadLetters.add(l);
    expect(await stores.deadLetters.list()).toEqual([a, b, c]);
    expect(await stores.deadLetters.list({ group: 'payments' })).toEqual([a, c]);
    expect(await stores.deadLetters.list({ handler: 'tickets:PaymentAuthorized' })).toEqual([b]);
    expect(await stores.deadLetters.list({ key: 'order-2', group: 'payments' })).toEqual([c]);
    expect(await stores.deadLetters.list({ ids: ['c', 'a'] })).toEqual([a, c]);
    expect(await stores.deadLetters.list({ limit: 2 })).toEqual([a, b]);
    // a limit that is no whole number of rows is cut as on SQLite, not sent for PostgreSQL to refuse
    expect(await stores.deadLetters.list({ limit: 2.5 })).toEqual([a, b]);
    expect(await stores.deadLetters.list({ limit: 0.5 })).toEqual([]);
    expect(await stores.deadLetters.list({ limit: -1 })).toEqual([]);
    // adding the same id again (a retried add) changes nothing: it answers with the stored letter
    expect(await stores.deadLetters.add({ ...a, attempts: 6 })).toEqual(a);
    expect((await stores.deadLetters.list()).map((l) => [l.id, l.attempts])).toEqual([['a', 5], ['b', 5], ['c', 5]]);
  });

  it('parks a key only for park-key letters that are dead or parked, per group', async () => {
    const stores = await pgs.stores();
    await stores.deadLetters.add(letter('p1'));
    await stores.deadLetters.add(letter('s1', { key: 'order-9', policy: 'skip' }));
    expect(await stores.deadLetters.isKeyParked('payments', 'orders', 'order-1')).toBe(true);
    expect(await stores.deadLetters.isKeyParked('tickets', 'orders', 'order-1')).toBe(false);
    expect(await stores.deadLetters.isKeyParked('payments', 'other-topic', 'order-1')).toBe(false);
    expect(await stores.deadLetters.isKeyParked('payments', 'orders', 'order-9')).toBe(false);
    await stores.deadLetters.add(letter('p2', { status: 'parked' }));
    await stores.deadLetters.setStatus(['p1'], 'redriven');
    expect(await stores.deadLetters.isKeyParked('payments', 'orders', 'order-1')).toBe(true);
    await stores.deadLetters.setStatus(['p2'], 'redriven');
    expect(await stores.deadLetters.isKeyParked('payments', 'orders', 'order-1')).toBe(false);
    expect((await stores.deadLetters.list({ status: 'redriven' })).map((l) => l.id)).toEqual(['p1', 'p2']);
  });

  it('answers isKeyParked from the small partial index, not by scanning letters', async () => {
    const stores = await pgs.stores();
    // mostly resolved letters, a tenth still open (as the read side's index of open letters holds), few of them parking a key
    await stores.transaction(async (tx) => {
      await tx.execute(`INSERT INTO herald.dead_letters
          (id, group_name, handler, topic, partition, record_offset, key, reason, error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
        SELECT 'bulk-' || i, 'g' || (i % 10), 'h', 'orders', 0, i, 'key-' || i, 'handler-failed', '{}', 1, 0, 0, '{}', '{}',
          CASE WHEN i % 100 = 0 THEN 'park-key' ELSE 'skip' END, CASE WHEN i % 10 = 0 THEN 'dead' ELSE 'redriven' END, CASE WHEN i % 10 = 0 THEN NULL ELSE 0 END
        FROM generate_series(1, 20000) AS i`);
      await tx.execute('ANALYZE herald.dead_letters');
    });
    // the statement the store sends, planned for its parameters and as the generic plan a prepared statement settles on
    const statement = isKeyParked(tablesFor('herald'), { group: 'g1', topic: 'orders', key: 'key-1' });
    const plans = await stores.transaction(async (tx) => {
      await tx.execute(`PREPARE parked_check (text, text, text, bytea) AS ${statement.text}`);
      const explained: string[] = [];
      for (const mode of ['force_custom_plan', 'force_generic_plan']) {
        await tx.execute(`SET LOCAL plan_cache_mode = ${mode}`);
        const plan = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE parked_check('g1', 'orders', 'key-1', NULL)`);
        explained.push(plan.map((r) => r['QUERY PLAN']).join('\n'));
      }
      await tx.execute('DEALLOCATE parked_check');
      return explained;
    });
    for (const plan of plans) expect(plan).toMatch(/Index Scan using dead_letters_parked on dead_letters[^\n]*\n\s*Index Cond: \(\(group_name = .*\) AND \(topic = .*\) AND \(hashtextextended\(key, '0'::bigint\) = /);
    expect(await stores.deadLetters.isKeyParked('g1', 'orders', 'key-1')).toBe(false);
    expect(await stores.deadLetters.isKeyParked('g0', 'orders', 'key-100')).toBe(true);
    expect(await stores.deadLetters.isKeyParked('g0', 'orders', 'key-10'), 'an open letter of policy skip parks nothing').toBe(false);
    // an earlier release's check, comparing the key itself during a rolling upgrade, still reads the index (the letters parking the group's keys)
    const earlier = await stores.transaction((tx) =>
      tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT EXISTS (SELECT 1 FROM herald.dead_letters
        WHERE group_name = 'g1' AND topic = 'orders' AND key = 'key-1' AND policy = 'park-key' AND status IN ('dead', 'parked'))`),
    );
    expect(earlier.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/(Index Scan using|Bitmap Index Scan on) dead_letters_parked/);
  });

  it("lists a group's letters of one key through an index of the key, not every open letter of the group", async () => {
    // the park-key path lists them four times for every delivery of a held key: read by group and
    // status, each list cost all the group's open letters (68 ms at 6,700 of them), or the table
    const stores = await pgs.stores();
    await stores.transaction(async (tx) => {
      await tx.execute(`INSERT INTO herald.dead_letters
          (id, group_name, handler, topic, partition, record_offset, key, reason, error, attempts, first_failure_at, last_failure_at, envelope, headers, policy, status, resolved_at)
        SELECT 'bulk-' || i, 'g' || (i % 3), 'h', 'orders', 0, i, 'key-' || (i % 5000), 'handler-failed', '{}', 1, 0, 0, '{}', '{}', 'park-key',
          CASE WHEN i % 10 = 0 THEN 'dead' ELSE 'redriven' END, CASE WHEN i % 10 = 0 THEN NULL ELSE 0 END
        FROM generate_series(1, 30000) AS i`);
      await tx.execute('ANALYZE herald.dead_letters');
    });
    const t = tablesFor('herald');
    for (const filter of [{ group: 'g1', key: 'key-10', status: 'dead' as const }, { group: 'g1', key: 'key-10', status: 'parked' as const }, { group: 'g1', handler: 'h', key: 'key-10' }]) {
      const statement = listDeadLetters(t, filter);
      const plan = await stores.transaction((tx) => tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${statement.text}`, statement.values));
      expect(plan.map((r) => r['QUERY PLAN']).join('\n'), JSON.stringify(filter)).toMatch(/(Index Scan using|Bitmap Index Scan on) dead_letters_key/);
    }
    const dead = await stores.deadLetters.list({ group: 'g1', key: 'key-10', status: 'dead' });
    expect(dead.map((l) => l.id)).toEqual(['bulk-10', 'bulk-15010']);
    expect(await stores.deadLetters.list({ group: 'g1', key: 'key-10', status: 'parked' })).toEqual([]);
    expect((await stores.deadLetters.list({ group: 'g1', handler: 'h', key: 'key-10' })).length).toBe(2);
  });
});
