import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { partitionForKey, type Logger, type Subscription } from '@herald/core';
import { sqliteLog, type SqliteLog, type SqliteLogOptions } from '@herald/sqlite';
import { FIRST_KEPT_SQL } from '../src/log/retention.js';
import { recordingSink, tempDir, waitFor } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

let counter = 0;
const open: SqliteLog[] = [];
function newLog(options: Partial<SqliteLogOptions> = {}): { log: SqliteLog; path: string } {
  const path = options.path ?? join(tmp.dir, `log-${++counter}.db`);
  const log = sqliteLog({ topics: [{ name: 'orders', partitions: 4 }], ...options, path });
  open.push(log);
  return { log, path };
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((log) => log.close()));
});

const value = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(50) });

describe('sqliteLog: publish and read', () => {
  it('places keys as Kafka does, with dense offsets per partition, in publish order per key', async () => {
    const { log } = newLog();
    const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.publish([{ topic: 'orders', key: keys[i % 20]!, value: value(i), headers: i === 0 ? { h: '1' } : undefined }])));
    const seen = recordingSink({ autoCommit: () => subscription });
    const subscription: Subscription = await log.subscribe({ group: 'g', topics: ['orders'] }, seen.sink);
    await waitFor(() => seen.deliveries.length === 200);
    for (const d of seen.deliveries) expect(d.partition).toBe(partitionForKey(d.key, 4));
    for (let p = 0; p < 4; p++) {
      const offsets = seen.deliveries.filter((d) => d.partition === p).map((d) => d.offset);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
    for (const key of keys) {
      const order = seen.deliveries.filter((d) => d.key === key).map((d) => (JSON.parse(d.value) as { i: number }).i);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect(seen.deliveries.find((d) => d.value === value(0))!.headers).toEqual({ h: '1' });
    expect(seen.batches.every((b) => b.highWatermark! >= b.deliveries.at(-1)!.offset + 1)).toBe(true);
  });

  it('appends a large publish call in its order, with dense offsets, headers and timestamps', async () => {
    const { log } = newLog();
    // 130 records in one call, over two topics and 7 keys
    const records = Array.from({ length: 130 }, (_, i) => ({
      topic: i % 3 === 0 ? 'audit' : 'orders',
      key: `key-${i % 7}`,
      value: value(i),
      ...(i % 5 === 0 ? { headers: { n: String(i) } } : {}),
      ...(i % 4 === 0 ? { timestamp: 1_000_000 + i } : {}),
    }));
    await log.publish(records);
    const seen = recordingSink({ autoCommit: () => subscription });
    const subscription: Subscription = await log.subscribe({ group: 'g', topics: ['orders', 'audit'] }, seen.sink);
    await waitFor(() => seen.deliveries.length === 130);
    for (const topic of ['orders', 'audit']) {
      for (let p = 0; p < 4; p++) {
        const offsets = seen.deliveries.filter((d) => d.topic === topic && d.partition === p).map((d) => d.offset);
        expect(offsets).toEqual(offsets.map((_, i) => i));
      }
    }
    for (let k = 0; k < 7; k++) {
      for (const topic of ['orders', 'audit']) {
        const published = records.filter((r) => r.key === `key-${k}` && r.topic === topic).map((r) => r.value);
        expect(seen.deliveries.filter((d) => d.key === `key-${k}` && d.topic === topic).map((d) => d.value)).toEqual(published);
      }
    }
    for (const [i, record] of records.entries()) {
      const delivery = seen.deliveries.find((d) => d.value === record.value)!;
      expect(delivery.headers).toEqual(record.headers ?? {});
      if (i % 4 === 0) expect(delivery.timestamp).toBe(1_000_000 + i);
    }
  });

  it('auto-creates unknown topics with defaultPartitions and grows topics on ensureTopics', async () => {
    const { log, path } = newLog({ defaultPartitions: 3 });
    await log.publish([{ topic: 'fresh', key: 'k', value: 'v' }]);
    await log.ensureTopics([{ name: 'orders', partitions: 6 }, { name: 'orders', partitions: 2 }]);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT name, partitions FROM herald_topics ORDER BY name').all()).toEqual([
        { name: 'fresh', partitions: 3 },
        { name: 'orders', partitions: 6 },
      ]);
    } finally {
      db.close();
    }
  });

  it('delivers a batch again when deliver throws, then moves on', async () => {
    const { log } = newLog();
    await log.publish([{ topic: 'orders', key: 'k', value: 'v1' }]);
    let calls = 0;
    const got: string[] = [];
    await log.subscribe({ group: 'g', topics: ['orders'] }, {
      async deliver(batch) {
        if (calls++ === 0) throw new Error('not now');
        got.push(...batch.deliveries.map((d) => d.value));
      },
      async revoked() {},
    });
    await waitFor(() => got.length === 1);
    expect(got).toEqual(['v1']);
  });

  it('refuses to work after close, and close is idempotent', async () => {
    const { log } = newLog();
    await Promise.all([log.close(), log.close()]);
    await expect(log.publish([{ topic: 'orders', key: 'k', value: 'v' }])).rejects.toMatchObject({ code: 'closed' });
  });
});

describe('sqliteLog: consumer groups and offsets', () => {
  it('resumes from the committed offset after a restart; uncommitted records come again', async () => {
    const { log, path } = newLog();
    await log.publish(Array.from({ length: 10 }, (_, i) => ({ topic: 'orders', key: 'same', value: `v${i}` })));
    const first: string[] = [];
    const subscription: Subscription = await log.subscribe({ group: 'g', topics: ['orders'], maxBatch: 3 }, {
      async deliver(batch) {
        first.push(...batch.deliveries.map((d) => d.value));
        if (first.length <= 6) await subscription.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.deliveries.at(-1)!.offset + 1 }]);
      },
      async revoked() {},
    });
    await waitFor(() => first.length === 10);
    await log.close();
    const { log: again } = newLog({ path });
    const second = recordingSink();
    await again.subscribe({ group: 'g', topics: ['orders'] }, second.sink);
    await waitFor(() => second.deliveries.length === 4);
    expect(second.deliveries.map((d) => d.value)).toEqual(['v6', 'v7', 'v8', 'v9']);
  });

  it("starts a new group at 'latest' or at a timestamp, and every group sees every record", async () => {
    const { log } = newLog();
    await log.publish([{ topic: 'orders', key: 'k', value: 'old', timestamp: 1000 }, { topic: 'orders', key: 'k', value: 'mid', timestamp: 2000 }]);
    const latest = recordingSink();
    const fromTime = recordingSink();
    const earliest = recordingSink();
    await log.subscribe({ group: 'latest', topics: ['orders'], start: 'latest' }, latest.sink);
    await log.subscribe({ group: 'time', topics: ['orders'], start: { timestamp: 1500 } }, fromTime.sink);
    await log.subscribe({ group: 'earliest', topics: ['orders'] }, earliest.sink);
    await log.publish([{ topic: 'orders', key: 'k', value: 'new' }]);
    await waitFor(() => latest.deliveries.length === 1 && fromTime.deliveries.length === 2 && earliest.deliveries.length === 3);
    expect(latest.deliveries.map((d) => d.value)).toEqual(['new']);
    expect(fromTime.deliveries.map((d) => d.value)).toEqual(['mid', 'new']);
    expect(earliest.deliveries.map((d) => d.value)).toEqual(['old', 'mid', 'new']);
  });

  it('replays a group from a timestamp with resetOffsets, refusing while the group is live', async () => {
    const { log } = newLog();
    await log.publish([1000, 2000, 3000].map((timestamp) => ({ topic: 'orders', key: 'k', value: `t${timestamp}`, timestamp })));
    const first = recordingSink({ autoCommit: () => subscription });
    const subscription: Subscription = await log.subscribe({ group: 'g', topics: ['orders'] }, first.sink);
    await waitFor(() => first.deliveries.length === 3);
    await expect(log.resetOffsets({ group: 'g', topic: 'orders', to: 'earliest' })).rejects.toMatchObject({ code: 'group-active' });
    await subscription.close();
    expect(first.events.at(-1)).toBe('revoked 4');
    await log.resetOffsets({ group: 'g', topic: 'orders', to: { timestamp: 2000 } });
    const replay = recordingSink();
    await log.subscribe({ group: 'g', topics: ['orders'] }, replay.sink);
    await waitFor(() => replay.deliveries.length === 2);
    expect(replay.deliveries.map((d) => d.value)).toEqual(['t2000', 't3000']);
  });

  it('shares partitions between two members of a group and hands them over on close', async () => {
    const { log, path } = newLog({ heartbeatMs: 50, sessionTimeoutMs: 1000 });
    const { log: other } = newLog({ path, heartbeatMs: 50, sessionTimeoutMs: 1000 });
    const a = recordingSink();
    const b = recordingSink();
    const subA = await log.subscribe({ group: 'g', topics: ['orders'] }, a.sink);
    expect(a.owned.size).toBe(4);
    await other.subscribe({ group: 'g', topics: ['orders'] }, b.sink);
    await waitFor(() => a.owned.size === 2 && b.owned.size === 2, 3000, 'a 2/2 split');
    expect([...a.owned].filter((tp) => b.owned.has(tp))).toEqual([]);
    await log.publish(Array.from({ length: 40 }, (_, i) => ({ topic: 'orders', key: `k${i}`, value: `v${i}` })));
    await waitFor(() => a.deliveries.length + b.deliveries.length === 40);
    await subA.close();
    await waitFor(() => b.owned.size === 4, 3000, 'b to own all partitions');
  });
});

describe('sqliteLog: retention', () => {
  it('deletes records older than the topic retention, and a lagging group resumes at the first kept one', async () => {
    const { log } = newLog();
    await log.ensureTopics([{ name: 'short', partitions: 1, retentionMs: 60_000 }]);
    const now = Date.now();
    await log.publish([
      { topic: 'short', key: 'k', value: 'ancient', timestamp: now - 120_000 },
      { topic: 'short', key: 'k', value: 'old', timestamp: now - 61_000 },
      { topic: 'short', key: 'k', value: 'fresh', timestamp: now },
    ]);
    expect(await log.sweepRetention()).toBe(2);
    const seen = recordingSink();
    await log.subscribe({ group: 'g', topics: ['short'] }, seen.sink);
    await waitFor(() => seen.deliveries.length === 1);
    expect(seen.deliveries.map((d) => [d.offset, d.value])).toEqual([[2, 'fresh']]);
  });

  it('deletes old records a chunk at a time, each step reading only its chunk to find the first young one', async () => {
    const { log, path } = newLog();
    await log.ensureTopics([{ name: 'short', partitions: 1, retentionMs: 60_000 }]);
    const now = Date.now();
    // past the first chunk (5,000): the 8,000th record is the first young one
    await log.publish(Array.from({ length: 12_000 }, (_, i) => ({ topic: 'short', key: 'k', value: `v${i}`, timestamp: i < 8000 ? now - 120_000 : now })));
    expect(await log.sweepRetention()).toBe(8000);
    const db = new Database(path, { readonly: true });
    try {
      const pid = db.prepare("SELECT pid FROM herald_partitions WHERE topic = 'short'").pluck().get();
      expect(db.prepare('SELECT min(position), count(*) FROM herald_records WHERE pid = ?').raw().get(pid)).toEqual([8000, 4000]);
      // the look for the first record to keep read the partition from its start at every step (3.7 s,
      // 0.5 s a step in the write queue, for 290,000 records)
      const plan = db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${FIRST_KEPT_SQL}`).all(0, 0, 0, 0).map((row) => row.detail);
      expect(plan).toEqual(['SEARCH herald_records USING PRIMARY KEY (pid=? AND position>? AND position<?)']);
    } finally {
      db.close();
    }
  });

  it('warns when the file was swept with another retention than this handle’s, naming both', async () => {
    const { path } = newLog({ retentionMs: null, retentionBytes: 5_000_000 });
    const warnings: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (message, fields) => void warnings.push({ message, fields }), child: () => logger };
    newLog({ path, logger, retentionMs: null, retentionBytes: 5_000_000 });
    expect(warnings).toEqual([]);
    newLog({ path, logger, retentionMs: 7 * 24 * 3_600_000 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('retentionMs null, retentionBytes 5000000; this handle: 604800000, null');
    expect(warnings[0]!.fields).toMatchObject({ path, recorded: { retentionMs: null, retentionBytes: 5_000_000 }, own: { retentionMs: 604_800_000, retentionBytes: null } });
  });

  it('keeps each partition under its size limit by dropping its oldest records', async () => {
    const { log } = newLog();
    await log.ensureTopics([{ name: 'small', partitions: 1, retentionBytes: 1000 }]);
    await log.publish(Array.from({ length: 20 }, (_, i) => ({ topic: 'small', key: 'k', value: 'x'.repeat(98) + (i % 10) })));
    expect(await log.sweepRetention()).toBe(10);
    const seen = recordingSink();
    await log.subscribe({ group: 'g', topics: ['small'] }, seen.sink);
    await waitFor(() => seen.deliveries.length === 10);
    expect(seen.deliveries[0]!.offset).toBe(10);
    await log.publish([{ topic: 'small', key: 'k', value: 'next' }]);
    await waitFor(() => seen.deliveries.length === 11);
    expect(seen.deliveries.at(-1)!.offset).toBe(20);
  });
});
