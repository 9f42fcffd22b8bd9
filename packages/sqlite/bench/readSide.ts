/**
 * Times the read side on a store file with many dead letters and a large outbox backlog: pages,
 * counts and groups of the dead letter browser, and the outbox backlog, each the median of 20 runs.
 * With `--without-indexes`, the indexes of migration 3 are dropped first, to see what they buy.
 *
 *   npx tsx packages/sqlite/bench/readSide.ts [letters=100000] [pending=100000] [--without-indexes]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { uuidv7, type DeadLetterQuery } from '@herald/core';
import { deadLetterRow } from '@herald/sql';
import { sqliteStores } from '@herald/sqlite';

const [letters = 100_000, pending = 100_000] = process.argv.slice(2).filter((a) => !a.startsWith('--')).map(Number);
const withoutIndexes = process.argv.includes('--without-indexes');
const dir = mkdtempSync(join(tmpdir(), 'herald-read-side-'));
const path = join(dir, 'store.db');

async function fill(): Promise<void> {
  await sqliteStores({ path }).close(); // creates the file at the latest schema
  const db = new Database(path);
  const now = Date.now();
  const columns = Object.keys(deadLetterRow(sample(0, now), now));
  const insert = db.prepare(`INSERT INTO herald_dead_letters (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
  const outbox = db.prepare('INSERT INTO herald_outbox (id, topic, key, type, correlation_id, value, headers, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)');
  db.transaction(() => {
    for (let i = 0; i < letters; i++) insert.run(deadLetterRow(sample(i, now), now));
    for (let i = 0; i < pending; i++) outbox.run(uuidv7(), `topic-${i % 20}`, `key-${i % 5000}`, 'OrderPlaced', uuidv7(), '{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}', now - (pending - i));
  })();
  if (withoutIndexes) for (const name of ['herald_dead_letters_status', 'herald_dead_letters_fingerprint', 'herald_dead_letters_last_failure']) db.exec(`DROP INDEX ${name}`);
  db.exec('ANALYZE');
  db.close();
}

/** 50 groups × 20 handlers, 200 fingerprints; 90% resolved (the usual state after a while), 10% dead or parked. */
function sample(i: number, now: number) {
  const status = i % 10 === 0 ? (i % 20 === 0 ? 'parked' : 'dead') : i % 3 === 0 ? 'discarded' : 'redriven';
  return {
    id: uuidv7(),
    group: `group-${i % 50}`,
    handler: `group-${i % 50}:Handler${i % 20}`,
    eventId: uuidv7(),
    eventType: `Event${i % 20}`,
    topic: `topic-${i % 20}`,
    partition: i % 8,
    offset: i,
    key: `key-${i % 5000}`,
    reason: i % 7 === 0 ? 'timeout' : 'handler-failed',
    fingerprint: `fp-${i % 200}`,
    error: { name: 'Error', message: `failure ${i % 200}`, stack: `Error: failure\n    at handler (src/h${i % 200}.ts:1:1)` },
    attempts: 5,
    firstFailureAt: now - (letters - i) * 1000 - 5000,
    lastFailureAt: now - (letters - i) * 1000,
    envelope: '{"id":"x","type":"OrderPlaced","data":{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}',
    headers: {},
    policy: 'skip' as const,
    status: status as 'dead',
  };
}

async function median(run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[10]!;
}

await fill();
const stores = sqliteStores({ path });
const browser = stores.deadLetters;
const open: DeadLetterQuery = { status: ['dead', 'parked'] };
const hourAgo = Date.now() - 3_600_000;
const second = (await browser.page({ ...open, limit: 100 })).next!;
const cases: [string, () => Promise<unknown>][] = [
  ['page: open letters, first 100', () => browser.page({ ...open, limit: 100 })],
  ['page: open letters, second 100', () => browser.page({ ...open, limit: 100, cursor: second })],
  ['page: one fingerprint, first 100', () => browser.page({ fingerprint: 'fp-120', limit: 100 })],
  ['page: one group, open, first 100', () => browser.page({ group: 'group-10', ...open, limit: 100 })],
  ['count: open letters', () => browser.count(open)],
  ['count: last hour', () => browser.count({ since: hourAgo })],
  ['count: all', () => browser.count()],
  ['groups: open letters', () => browser.groups(open)],
  ['groups: one group, open', () => browser.groups({ group: 'group-10', ...open })],
  ['outbox backlog', () => stores.outbox.backlog()],
];
console.log(`${letters} dead letters (10% open), ${pending} pending outbox records, migration 3 indexes: ${withoutIndexes ? 'dropped' : 'present'}`);
for (const [name, run] of cases) console.log(`${name.padEnd(36)} ${(await median(run)).toFixed(2).padStart(8)} ms`);
await stores.close();
rmSync(dir, { recursive: true, force: true });
