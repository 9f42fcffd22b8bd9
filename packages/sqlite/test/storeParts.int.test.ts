import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type DeadLetter, type ManualClock, type OutboxRecord } from '@herald/core';
import { sqliteStores, type SqliteStores } from '@herald/sqlite';
import { tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const DAY = 24 * 60 * 60 * 1000;
let counter = 0;
let clock: ManualClock;
let stores: SqliteStores;

beforeEach(() => {
  clock = createManualClock(1_700_000_000_000);
  stores = sqliteStores({ path: join(tmp.dir, `parts-${++counter}.db`), clock });
});
afterEach(() => stores.close());

function record(id: string, key: string, correlationId = 'c-1'): OutboxRecord {
  return { id, topic: 'orders', key, type: 'OrderPlaced', correlationId, value: `{"id":"${id}"}`, headers: id === 'h' ? { traceparent: 'x' } : {}, createdAt: clock.now() };
}

async function append(...records: OutboxRecord[]): Promise<void> {
  await stores.transaction((tx) => stores.outbox.append(tx, records));
}

describe('outbox', () => {
  it('claims in append order and keeps published rows, with their time, for findByCorrelation', async () => {
    await append(record('a', 'k1'), record('b', 'k2'), record('h', 'k1', 'c-2'));
    await append(record('c', 'k1'));
    const first = await stores.outbox.claim({ relayId: 'r1', limit: 2, leaseMs: 1000 });
    expect(first.map((r) => r.id)).toEqual(['a', 'b']);
    await stores.outbox.markPublished('r1', ['a', 'b']);
    const second = await stores.outbox.claim({ relayId: 'r1', limit: 10, leaseMs: 1000 });
    expect(second.map((r) => r.id)).toEqual(['h', 'c']);
    expect(second[0]!.headers).toEqual({ traceparent: 'x' });
    const view = await stores.outbox.findByCorrelation('c-1');
    expect(view.map((e) => [e.id, e.publishedAt])).toEqual([['a', clock.now()], ['b', clock.now()], ['c', null]]);
  });

  it('ignores a second append of the same event id (idempotent publish)', async () => {
    await append(record('a', 'k1'));
    await append({ ...record('a', 'k1'), value: 'changed' });
    const claimed = await stores.outbox.claim({ relayId: 'r', limit: 10, leaseMs: 1000 });
    expect(claimed.map((r) => r.value)).toEqual(['{"id":"a"}']);
  });

  it('holds back a key claimed by another relay, while other keys flow to it', async () => {
    await append(record('a1', 'a'), record('b1', 'b'), record('a2', 'a'), record('c1', 'c'));
    expect((await stores.outbox.claim({ relayId: 'r1', limit: 1, leaseMs: 1000 })).map((r) => r.id)).toEqual(['a1']);
    // r2 must not get a2 while r1 holds a1, but takes the free keys
    expect((await stores.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 1000 })).map((r) => r.id)).toEqual(['b1', 'c1']);
    expect(await stores.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 1000 })).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'b1' })]),
    );
    await stores.outbox.markPublished('r1', ['a1']);
    expect((await stores.outbox.claim({ relayId: 'r3', limit: 10, leaseMs: 1000 })).map((r) => r.id)).toEqual(['a2']);
  });

  it('hands a lapsed claim to another relay, in order, and release gives a claim back early', async () => {
    await append(record('a1', 'a'), record('a2', 'a'));
    expect((await stores.outbox.claim({ relayId: 'r1', limit: 1, leaseMs: 1000 })).map((r) => r.id)).toEqual(['a1']);
    await clock.advance(1001);
    expect((await stores.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 1000 })).map((r) => r.id)).toEqual(['a1', 'a2']);
    await stores.outbox.release('r2', ['a1', 'a2']);
    expect((await stores.outbox.claim({ relayId: 'r2', limit: 10, leaseMs: 1000 })).map((r) => r.id)).toEqual(['a1', 'a2']);
  });

  it('many relays racing with random publish outcomes never publish a key out of order', async () => {
    const keys = ['k0', 'k1', 'k2', 'k3'];
    for (let i = 0; i < 200; i++) await append(record(`e${i}`, keys[i % keys.length]!));
    const published: OutboxRecord[] = [];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    async function relay(relayId: string): Promise<void> {
      for (let round = 0; round < 2000 && published.length < 200; round++) {
        const batch = await stores.outbox.claim({ relayId, limit: 1 + Math.floor(random() * 7), leaseMs: 1000 });
        if (batch.length === 0) continue;
        const fate = random();
        if (fate < 0.2) {
          await stores.outbox.release(relayId, batch.map((r) => r.id));
          continue;
        }
        if (fate < 0.3) {
          // the relay "crashes": neither marks nor releases; its claims must lapse first
          await clock.advance(600);
          continue;
        }
        published.push(...batch);
        await stores.outbox.markPublished(relayId, batch.map((r) => r.id));
      }
    }
    await Promise.all([relay('r1'), relay('r2'), relay('r3')]);
    expect(published).toHaveLength(200);
    for (const key of keys) {
      const order = published.filter((r) => r.key === key).map((r) => Number(r.id.slice(1)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });

  it('sweeps published rows older than the retention, never unpublished ones', async () => {
    await append(record('old', 'k'), record('pending', 'k2'));
    await stores.outbox.claim({ relayId: 'r', limit: 1, leaseMs: 1000 });
    await stores.outbox.markPublished('r', ['old']);
    await clock.advance(8 * DAY);
    await append(record('young', 'k3'));
    const swept = await stores.sweepRetention();
    expect(swept.outbox).toBe(1);
    expect((await stores.outbox.findByCorrelation('c-1')).map((e) => e.id)).toEqual(['pending', 'young']);
  });
});

describe('inbox', () => {
  it('marks once per group and event, and finds marks across groups', async () => {
    const mark = (group: string, eventId: string) => stores.transaction((tx) => stores.inbox.markHandled(tx, { group, eventId, handledAt: clock.now() }));
    expect(await Promise.all([mark('g1', 'e1'), mark('g1', 'e1'), mark('g2', 'e1'), mark('g1', 'e2')])).toEqual([true, false, true, true]);
    const found = await stores.inbox.findHandled(['e1', 'e3']);
    expect(found.map((f) => `${f.group}:${f.eventId}`).sort()).toEqual(['g1:e1', 'g2:e1']);
  });

  it('rolls the mark back with a failed transaction', async () => {
    await expect(
      stores.transaction(async (tx) => {
        await stores.inbox.markHandled(tx, { group: 'g', eventId: 'e', handledAt: 1 });
        throw new Error('handler failed');
      }),
    ).rejects.toThrow('handler failed');
    expect(await stores.inbox.findHandled(['e'])).toEqual([]);
  });

  it('sweeps marks older than inboxRetentionMs', async () => {
    await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId: 'old', handledAt: clock.now() }));
    await clock.advance(8 * DAY);
    await stores.transaction((tx) => stores.inbox.markHandled(tx, { group: 'g', eventId: 'new', handledAt: clock.now() }));
    expect((await stores.sweepRetention()).inbox).toBe(1);
    expect((await stores.inbox.findHandled(['old', 'new'])).map((m) => m.eventId)).toEqual(['new']);
  });
});

describe('dead letters', () => {
  function letter(id: string, overrides: Partial<DeadLetter> = {}): DeadLetter {
    return {
      id, group: 'g', handler: 'g:OrderPlaced', eventId: `ev-${id}`, eventType: 'OrderPlaced', topic: 'orders', partition: 3, offset: 42, key: 'k1',
      reason: 'handler-failed', fingerprint: 'f1', error: { name: 'Error', message: 'boom', stack: 'at x', details: { a: 1 } }, attempts: 5,
      firstFailureAt: 1, lastFailureAt: 2, envelope: '{"raw":true}', headers: { traceparent: 't' }, policy: 'park-key', status: 'dead', ...overrides,
    };
  }

  it('stores letters untouched and lists them in order with filters', async () => {
    await stores.deadLetters.add(letter('d1'));
    await stores.deadLetters.add(letter('d2', { key: 'k2', handler: 'g:Other', policy: 'skip' }));
    await stores.deadLetters.add(letter('d3', { group: 'h', status: 'parked' }));
    expect(await stores.deadLetters.list()).toEqual([letter('d1'), letter('d2', { key: 'k2', handler: 'g:Other', policy: 'skip' }), letter('d3', { group: 'h', status: 'parked' })]);
    expect((await stores.deadLetters.list({ group: 'g' })).map((l) => l.id)).toEqual(['d1', 'd2']);
    expect((await stores.deadLetters.list({ handler: 'g:Other' })).map((l) => l.id)).toEqual(['d2']);
    expect((await stores.deadLetters.list({ status: 'parked' })).map((l) => l.id)).toEqual(['d3']);
    expect((await stores.deadLetters.list({ ids: ['d3', 'd1'] })).map((l) => l.id)).toEqual(['d1', 'd3']);
    expect((await stores.deadLetters.list({ key: 'k1', limit: 1 })).map((l) => l.id)).toEqual(['d1']);
  });

  it('answers isKeyParked for park-key letters that are dead or parked, per group and topic', async () => {
    expect(await stores.deadLetters.isKeyParked('g', 'orders', 'k1')).toBe(false);
    await stores.deadLetters.add(letter('d1'));
    await stores.deadLetters.add(letter('s1', { key: 'skip-key', policy: 'skip' }));
    expect(await stores.deadLetters.isKeyParked('g', 'orders', 'k1')).toBe(true);
    expect(await stores.deadLetters.isKeyParked('g', 'orders', 'skip-key')).toBe(false);
    expect(await stores.deadLetters.isKeyParked('other', 'orders', 'k1')).toBe(false);
    expect(await stores.deadLetters.isKeyParked('g', 'payments', 'k1')).toBe(false);
    await stores.deadLetters.setStatus(['d1'], 'redriven');
    expect(await stores.deadLetters.isKeyParked('g', 'orders', 'k1')).toBe(false);
    expect((await stores.deadLetters.list({ ids: ['d1'] }))[0]!.status).toBe('redriven');
  });

  it('sees letters added by another process (another connection) at once', async () => {
    const path = join(tmp.dir, `parts-${counter}.db`);
    const other = sqliteStores({ path, clock });
    try {
      expect(await stores.deadLetters.isKeyParked('g', 'orders', 'k1')).toBe(false);
      await other.deadLetters.add(letter('x1'));
      expect(await stores.deadLetters.isKeyParked('g', 'orders', 'k1')).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('idempotency', () => {
  const started = { outcome: 'started', owner: expect.any(String) };

  it('starts once, reports in-flight, mismatch and the completed response', async () => {
    const now = clock.now();
    const begin = (fingerprint = 'f1', at = now) => stores.idempotency.begin({ key: 'k', fingerprint, now: at, ttlMs: 1000 });
    const [a, b] = await Promise.all([begin(), begin()]);
    expect([a, b]).toEqual([started, { outcome: 'in-flight' }]);
    expect(await begin('f2')).toEqual({ outcome: 'mismatch' });
    if (a.outcome !== 'started') throw new Error('not started');
    await stores.transaction((tx) => stores.idempotency.complete(tx, { key: 'k', owner: a.owner, response: { status: 201, body: { id: 1 } } }));
    expect(await begin()).toEqual({ outcome: 'completed', response: { status: 201, body: { id: 1 } } });
  });

  it('forgets a key abandoned by its owner and treats expired keys as absent', async () => {
    const now = clock.now();
    const first = await stores.idempotency.begin({ key: 'a', fingerprint: 'f', now, ttlMs: 1000 });
    expect(first).toEqual(started);
    if (first.outcome !== 'started') throw new Error('not started');
    await stores.idempotency.abandon({ key: 'a', owner: 'not-the-owner' });
    expect(await stores.idempotency.begin({ key: 'a', fingerprint: 'f', now, ttlMs: 1000 })).toEqual({ outcome: 'in-flight' });
    await stores.idempotency.abandon({ key: 'a', owner: first.owner });
    expect(await stores.idempotency.begin({ key: 'a', fingerprint: 'g', now, ttlMs: 1000 })).toEqual(started);
    expect(await stores.idempotency.begin({ key: 'a', fingerprint: 'other', now: now + 1000, ttlMs: 1000 })).toEqual(started);
  });

  it('rolls a completion back with its transaction', async () => {
    const now = clock.now();
    const begun = await stores.idempotency.begin({ key: 'r', fingerprint: 'f', now, ttlMs: 1000 });
    if (begun.outcome !== 'started') throw new Error('not started');
    await expect(
      stores.transaction(async (tx) => {
        await stores.idempotency.complete(tx, { key: 'r', owner: begun.owner, response: 'ok' });
        throw new Error('effects failed');
      }),
    ).rejects.toThrow('effects failed');
    expect(await stores.idempotency.begin({ key: 'r', fingerprint: 'f', now, ttlMs: 1000 })).toEqual({ outcome: 'in-flight' });
  });

  it('purges expired records and counts them', async () => {
    const now = clock.now();
    await stores.idempotency.begin({ key: 'short', fingerprint: 'f', now, ttlMs: 10 });
    await stores.idempotency.begin({ key: 'long', fingerprint: 'f', now, ttlMs: 10_000 });
    expect(await stores.idempotency.purgeExpired(now + 10)).toBe(1);
    expect(await stores.idempotency.begin({ key: 'long', fingerprint: 'f', now: now + 10, ttlMs: 10 })).toEqual({ outcome: 'in-flight' });
  });
});
