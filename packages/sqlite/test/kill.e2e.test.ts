import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { startFixture, type Child } from './child.js';
import { tempDir, waitFor } from './helpers.js';

const tmp = tempDir('herald-kill-');
const children: Child[] = [];
afterAll(() => {
  for (const child of children) child.kill();
  tmp.remove();
});

function start(name: string, args: readonly string[]): Child {
  const child = startFixture(name, args);
  children.push(child);
  return child;
}

interface Effect { n: number; event_id: string; key: string; seq: number; prev: number | null; pid: number }

/** Reads a data dir's tables as another process would (committed data only). */
function read<T>(dataDir: string, file: 'store.db' | 'log.db', sql: string): T[] {
  const path = join(dataDir, file);
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[], T>(sql).all();
  } catch (error) {
    if (/no such table/.test(String(error))) return [];
    throw error;
  } finally {
    db.close();
  }
}

const effectsOf = (dataDir: string) => read<Effect>(dataDir, 'store.db', 'SELECT n, event_id, key, seq, prev, pid FROM effects ORDER BY n');
const publishedOf = (dataDir: string) => read<{ key: string; seq: number }>(dataDir, 'store.db', 'SELECT key, seq FROM published ORDER BY key, seq');

/** Every published event applied exactly once, each key's events applied in seq order, right after their predecessor. */
function expectExactlyOnceInOrder(effects: readonly Effect[], published: readonly { key: string; seq: number }[]): void {
  const perEvent = new Map<string, number>();
  for (const e of effects) perEvent.set(e.event_id, (perEvent.get(e.event_id) ?? 0) + 1);
  expect([...perEvent.values()].filter((n) => n > 1), 'effects applied twice').toEqual([]);
  expect(new Set(effects.map((e) => `${e.key}/${e.seq}`))).toEqual(new Set(published.map((p) => `${p.key}/${p.seq}`)));
  const byKey = new Map<string, Effect[]>();
  for (const e of effects) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  for (const [key, list] of byKey) {
    expect(list.map((e) => e.seq), `apply order of ${key}`).toEqual(list.map((_, i) => i));
    expect(list.map((e) => e.prev), `predecessor of each ${key} event`).toEqual(list.map((_, i) => (i === 0 ? null : i - 1)));
  }
}

describe('the embedded engine under kill -9', () => {
  it('loses nothing, applies nothing twice and keeps per-key order across random kills of a publishing, consuming process', async () => {
    const dataDir = join(tmp.dir, 'restarts');
    const acked: string[] = [];
    for (let round = 0; round < 5; round++) {
      const child = start('killApp', [dataDir, '10']);
      await child.waitForLine((line) => line === 'ready');
      const target = 150 + Math.floor(Math.random() * 600);
      await child.waitForLine(() => child.lines.filter((line) => line.startsWith('ack ')).length >= target);
      child.kill('SIGKILL');
      expect(await child.exited).toBe('SIGKILL');
      acked.push(...child.lines.filter((line) => line.startsWith('ack ')).map((line) => line.slice(4).replace(' ', '/')));
    }
    // a last run that only consumes, until everything committed to the outbox has been applied
    const last = start('killApp', [dataDir, '0']);
    await last.waitForLine((line) => line === 'ready');
    const published = publishedOf(dataDir);
    await waitFor(() => effectsOf(dataDir).length >= published.length, 30_000, 'every published event applied');
    last.kill('SIGKILL');
    await last.exited;

    const effects = effectsOf(dataDir);
    expect(acked.length).toBeGreaterThan(700);
    const publishedSet = new Set(published.map((p) => `${p.key}/${p.seq}`));
    expect(acked.filter((ack) => !publishedSet.has(ack)), 'acknowledged publishes missing').toEqual([]);
    for (const key of new Set(published.map((p) => p.key))) {
      const seqs = published.filter((p) => p.key === key).map((p) => p.seq);
      expect(seqs, `published seqs of ${key}`).toEqual(seqs.map((_, i) => i));
    }
    expectExactlyOnceInOrder(effects, published);
  });

  it('moves a killed consumer’s partitions to the other consumer of its group, losing and repeating nothing', async () => {
    const dataDir = join(tmp.dir, 'two-consumers');
    const a = start('killApp', [dataDir, '0', '2']);
    await a.waitForLine((line) => line === 'ready');
    const b = start('killApp', [dataDir, '0', '2']);
    await b.waitForLine((line) => line === 'ready');
    const leaseHolders = () =>
      read<{ member_id: string }>(dataDir, 'log.db', "SELECT member_id FROM herald_leases WHERE group_name = 'effects' AND member_id IS NOT NULL").map((r) => r.member_id);
    const holds = (child: Child) => leaseHolders().filter((member) => member.includes(`-${child.process.pid}-`)).length;
    await waitFor(() => holds(a) === 2 && holds(b) === 2, 10_000, 'the four partitions split 2/2');

    const publisher = start('publishSteps', [dataDir, '1500', '30']);
    await waitFor(() => effectsOf(dataDir).filter((e) => e.pid === a.process.pid).length >= 100, 20_000, 'A applying events');
    a.kill('SIGKILL');
    await a.exited;
    // that it happens, not how soon (leases.int.test.ts drives the session bound on a manual clock): the wait only bounds a hang
    await waitFor(() => holds(b) === 4, 30_000, 'B taking over A’s partitions');

    await publisher.waitForLine((line) => line === 'published', 30_000);
    await waitFor(() => effectsOf(dataDir).length >= 1500, 30_000, 'all 1500 events applied');
    const effects = effectsOf(dataDir);
    expect(effects.filter((e) => e.pid === a.process.pid).length).toBeGreaterThanOrEqual(100);
    expect(effects.filter((e) => e.pid === b.process.pid).length).toBeGreaterThan(0);
    expectExactlyOnceInOrder(effects, publishedOf(dataDir));
  });
});
