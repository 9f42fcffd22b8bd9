import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, silentLogger, type App, type SqlTx } from '@herald/core';
import { sqliteEngine, sqliteStores, type SqliteStores } from '@herald/sqlite';
import { eventually } from '@herald/testing';
import { StreamErrorCodes, TimeWindows, createTopology, streamTest } from '../src/index.js';
import { Click, ClickCounts, LateClicks, clickTopology, topics } from './support.js';

// Keys the window stores cannot keep exactly: a window is found again by its exact key, and SQLite
// reads a lone surrogate back as U+FFFD (PostgreSQL too, and it refuses U+0000), so such a key
// would lose its counts without a word. The stream refuses it before the record joins a window.

let dir: string | undefined;
const apps: App<SqlTx>[] = [];
const stores: SqliteStores[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function sqlite(): SqliteStores {
  dir ??= mkdtempSync(join(tmpdir(), 'herald-stream-keys-'));
  const made = sqliteStores({ path: join(dir, `stores-${stores.length}.db`) });
  stores.push(made);
  return made;
}

describe('keys of an aggregation', () => {
  it('refuses a key with a lone surrogate or U+0000 with invalid-stream-key, and counts a well-formed key in full', async () => {
    const t = streamTest(clickTopology<SqlTx>({ graceMs: 0 }), { stores: sqlite() as never });
    for (const [userId, reason] of [['caf\ud83d', 'a lone UTF-16 surrogate'], ['nul\u0000x', 'U+0000 (NUL)']] as const) {
      const refused = t.given(Click, [{ userId, seq: 1 }], { at: 1_000 });
      await expect(refused).rejects.toMatchObject({ code: StreamErrorCodes.invalidKey, retriable: false });
      await expect(refused).rejects.toThrow(`aggregation per-user: key ${JSON.stringify(userId)} must not contain ${reason}`);
    }
    // a tab, an emoji pair and a non-Latin key are text every store keeps: three clicks in batches of their own, three counted
    const keys = ['tab\there', 'caf\ud83d\ude00', 'ключ'];
    for (const userId of keys) await t.given(Click, [1, 2, 3].map((seq) => ({ userId, seq })), { at: 1_000, oneByOne: true });
    await t.when(Click, [{ userId: 'flush', seq: 0 }], { at: 20_000 });
    expect(t.published(ClickCounts).sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(keys.map((userId) => ({ userId, start: 0, clicks: 3 })).sort((a, b) => a.userId.localeCompare(b.userId)));
  });

  it('dead-letters a record whose groupBy key is cut inside a surrogate pair, and counts the others of its batch', async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-stream-keys-'));
    const engine = sqliteEngine({ dataDir: dir });
    await engine.broker.ensureTopics(topics(1));
    const topology = createTopology<SqlTx>({ name: 'prefixes', idleTimeoutMs: 3_600_000 });
    topology
      .from(Click)
      // the first four UTF-16 units: `caf😀` loses the low half of its emoji
      .groupBy((r) => r.value.userId.slice(0, 4), { name: 'prefix', partitions: 1 })
      .windowedBy(TimeWindows.ofSizeWithNoGrace(10_000))
      .count('n', { late: { to: LateClicks } });
    expect(topology.groups).toEqual(['prefixes', 'prefixes-prefix']);
    const app = createApp<SqlTx>({ name: 'keys', broker: engine.broker, stores: engine.stores, topics: [...topics(1), ...topology.topics], logger: silentLogger });
    apps.push(app);
    topology.install(app);
    await app.start();
    await app.publishDirect.many(Click, [{ userId: 'abcd-1', seq: 1 }, { userId: 'caf\ud83d\ude00', seq: 2 }, { userId: 'abcd-2', seq: 3 }], { occurredAt: new Date(1_000) });
    const [letter] = await eventually(async () => ((await app.deadLetters()).length === 1 ? app.deadLetters() : undefined), 10_000, 'a dead letter');
    expect(letter).toMatchObject({ reason: StreamErrorCodes.invalidKey, key: 'caf\ud83d\ude00', attempts: 1 });
    expect(letter!.error.message).toContain('groupBy prefix: key "caf\\ud83d" must not contain a lone UTF-16 surrogate');
    const counted = await eventually(async () => {
      const { windows } = await engine.stores.windows.read('prefixes.n');
      return windows.length === 1 && windows[0]!.value === '2' ? windows : undefined;
    }, 10_000, 'the other two counted');
    expect(counted.map((w) => w.key)).toEqual(['abcd']);
  });
});
