import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createManualClock, type Logger, type StartPosition } from '@herald/core';
import { sqliteLog, type SqliteLog, type SqliteLogOptions } from '@herald/sqlite';
import { migrate } from '../src/internal/migrate.js';
import { LOG_MIGRATIONS } from '../src/log/schema.js';
import { recordingSink, tempDir, waitFor } from './helpers.js';

const tmp = tempDir('herald-offsets-retention-');
afterAll(() => tmp.remove());
let counter = 0;
const newPath = () => join(tmp.dir, `log-${++counter}.db`);

const T0 = 1_700_000_000_000;
/** The offsets retention of these tests (their groups' sessions are 1 s unless said otherwise). */
const R = 60_000;
const DAY = 24 * 3_600_000;

const open: SqliteLog[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((log) => log.close()));
});

interface Line { message: string; fields: Record<string, unknown> | undefined }
function capturingLogger(level: 'info' | 'warn', lines: Line[]): Logger {
  const logger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };
  logger[level] = (message, fields) => void lines.push({ message, fields });
  return logger;
}

/** A handle whose clock stands at `at` and moves only when told; a member's, unless `maintenance`. */
function handle(path: string, at: number, options: Partial<SqliteLogOptions> = {}) {
  const clock = createManualClock(at);
  const log = sqliteLog({ path, clock, heartbeatMs: 100, sessionTimeoutMs: 1_000, offsetsRetentionMs: R, maintenance: false, ...options });
  open.push(log);
  return { log, clock };
}

/** The app's handle that sweeps, at `at`. */
const sweeper = (path: string, at: number, options: Partial<SqliteLogOptions> = {}) => handle(path, at, { maintenance: true, ...options });

/** How many rows a group has in each of the log's group tables, as another process sees them. */
function groupRows(path: string, group: string) {
  const db = new Database(path, { readonly: true });
  try {
    const count = (table: string) => db.prepare<[string], number>(`SELECT count(*) FROM ${table} WHERE group_name = ?`).pluck().get(group);
    return { offsets: count('herald_offsets'), leases: count('herald_leases'), members: count('herald_members') };
  } finally {
    db.close();
  }
}

const records = (values: readonly string[]) => values.map((value) => ({ topic: 'work', key: 'k', value }));

/** A group that took both partitions of `work` at `at` (its start positions stored, no commit) and whose process then died. */
async function deadGroup(path: string, group: string, at: number): Promise<void> {
  const { log } = handle(path, at, { topics: [{ name: 'work', partitions: 2 }] });
  await log.subscribe({ group, topics: ['work'] }, recordingSink().sink);
  await log.crash();
}

describe('sqliteLog offsets retention (Kafka’s offsets.retention.minutes)', () => {
  it('deletes the offsets, leases and member rows of a group with no live member idle for offsetsRetentionMs, and logs it', async () => {
    const path = newPath();
    await deadGroup(path, 'gone', T0);
    const infos: Line[] = [];
    const { log, clock } = sweeper(path, T0 + R - 1, { logger: capturingLogger('info', infos) });
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual(['gone']);
    expect(groupRows(path, 'gone')).toEqual({ offsets: 2, leases: 2, members: 1 });
    expect(infos).toEqual([]);

    await clock.advance(1);
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual([]);
    expect(await log.describeGroup('gone')).toEqual({ group: 'gone', members: 0, partitions: [], totalLag: 0 });
    expect(groupRows(path, 'gone')).toEqual({ offsets: 0, leases: 0, members: 0 });
    expect(infos).toHaveLength(1);
    expect(infos[0]!.message).toContain('1 consumer group');
    expect(infos[0]!.fields).toEqual({ path, count: 1, groups: ['gone'], offsetsRetentionMs: R });
  });

  it('expires many groups in transactions of at most 500, and logs their count with the first 20 names', async () => {
    const path = newPath();
    const tool = handle(path, T0, { topics: [{ name: 'work', partitions: 1 }] });
    const names = Array.from({ length: 501 }, (_, i) => `reply-${String(i).padStart(3, '0')}`);
    // an operator's resets: positions stored, no member ever
    await Promise.all(names.map((group) => tool.log.resetOffsets({ group, topic: 'work', to: 'earliest' })));
    expect(await tool.log.listGroups()).toHaveLength(501);
    const infos: Line[] = [];
    const { log } = sweeper(path, T0 + R, { logger: capturingLogger('info', infos) });
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual([]);
    expect(infos).toHaveLength(1);
    expect(infos[0]!.message).toContain('501 consumer group(s)');
    expect(infos[0]!.fields).toEqual({ path, count: 501, groups: names.slice(0, 20), offsetsRetentionMs: R });
  });

  const HALF = R / 2;
  /**
   * Each builds a group whose activity at T0 alone would expire at T0 + R, plus one later sign of
   * life; resolves with its time, and what to do once the first sweep (at T0 + R) has run.
   */
  const signsOfLife: [string, (path: string) => Promise<{ lastSeen: number; afterFirstSweep?: () => Promise<void> }>][] = [
    [
      'a commit',
      async (path) => {
        // no heartbeat between taking the partitions and the commit, and dead (by its own session) before T0 + R
        const { log, clock } = handle(path, T0, { topics: [{ name: 'work', partitions: 2 }], heartbeatMs: 0.6 * R, sessionTimeoutMs: 0.9 * R });
        const subscription = await log.subscribe({ group: 'g', topics: ['work'] }, recordingSink().sink);
        await clock.advance(HALF);
        await subscription.commit([{ topic: 'work', partition: 0, offset: 0 }]);
        await log.crash();
        return { lastSeen: T0 + HALF };
      },
    ],
    [
      'the last heartbeat of a member that died since',
      async (path) => {
        const first = handle(path, T0, { topics: [{ name: 'work', partitions: 2 }] });
        await (await first.log.subscribe({ group: 'g', topics: ['work'] }, recordingSink().sink)).close();
        // its positions are stored already: taking the partitions writes none
        const { log } = handle(path, T0 + HALF);
        await log.subscribe({ group: 'g', topics: ['work'] }, recordingSink().sink);
        await log.crash();
        return { lastSeen: T0 + HALF };
      },
    ],
    [
      'an offset reset',
      async (path) => {
        await deadGroup(path, 'g', T0);
        const { log } = handle(path, T0 + HALF);
        await log.resetOffsets({ group: 'g', topic: 'work', to: 'earliest' });
        return { lastSeen: T0 + HALF };
      },
    ],
    [
      'a sweep saw it with a live member, which then left cleanly (deleting its row)',
      async (path) => {
        const first = handle(path, T0, { topics: [{ name: 'work', partitions: 2 }] });
        await (await first.log.subscribe({ group: 'g', topics: ['work'] }, recordingSink().sink)).close();
        const { log } = handle(path, T0 + R);
        const subscription = await log.subscribe({ group: 'g', topics: ['work'] }, recordingSink().sink);
        return { lastSeen: T0 + R, afterFirstSweep: () => subscription.close() };
      },
    ],
  ];

  it.each(signsOfLife)('keeps a group for offsetsRetentionMs after %s', async (_, build) => {
    const path = newPath();
    const { lastSeen, afterFirstSweep } = await build(path);
    const { log, clock } = sweeper(path, T0 + R);
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual(['g']);
    expect(groupRows(path, 'g').offsets).toBe(2);
    await afterFirstSweep?.();

    await clock.advance(lastSeen + R - 1 - clock.now());
    await log.sweepRetention();
    expect(await log.listGroups(), 'not until offsetsRetentionMs have passed since').toEqual(['g']);
    await clock.advance(1);
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual([]);
    expect(groupRows(path, 'g')).toEqual({ offsets: 0, leases: 0, members: 0 });
  });

  it('keeps a group while it has a live member, however long ago its last commit and heartbeat', async () => {
    const path = newPath();
    // a session longer than the retention: live at T0 + 2R without a heartbeat since T0
    const { log } = handle(path, T0, { topics: [{ name: 'work', partitions: 2 }], heartbeatMs: R, sessionTimeoutMs: 3 * R });
    await log.subscribe({ group: 'g', topics: ['work'] }, recordingSink().sink);
    const { log: app, clock } = sweeper(path, T0 + 2 * R);
    await app.sweepRetention();
    expect(await app.listGroups()).toEqual(['g']);
    expect(groupRows(path, 'g')).toEqual({ offsets: 2, leases: 2, members: 1 });
    // its session has lapsed, and R has passed since the sweep that saw it live
    await clock.advance(R + 1);
    await app.sweepRetention();
    expect(await app.listGroups()).toEqual([]);
  });

  it.each<[StartPosition, string[]]>([
    ['earliest', ['a', 'b', 'c', 'x', 'd']],
    ['latest', ['d']],
  ])('starts a group whose offsets expired at its start position when it returns (%s), as a new group', async (start, expected) => {
    const path = newPath();
    const first = handle(path, T0, { topics: [{ name: 'work', partitions: 1 }] });
    await first.log.publish(records(['a', 'b', 'c']));
    const before = recordingSink({ autoCommit: () => subscription });
    const subscription = await first.log.subscribe({ group: 'g', topics: ['work'], start }, before.sink);
    await waitFor(async () => (await first.log.describeGroup('g')).totalLag === 0, 5_000, 'the group to commit what it read');
    await subscription.close();
    // published while the group is away: its committed position is before it
    await first.log.publish(records(['x']));

    const { log } = sweeper(path, T0 + R);
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual([]);

    const back = handle(path, T0 + R);
    const after = recordingSink();
    await back.log.subscribe({ group: 'g', topics: ['work'], start }, after.sink);
    await back.log.publish(records(['d']));
    await waitFor(() => after.deliveries.some((d) => d.value === 'd'), 5_000, 'the new record');
    expect(after.deliveries.map((d) => d.value)).toEqual(expected);
  });

  it('does not expire at the first sweep positions written before the upgrade, nor those a process of the earlier release writes after it', async () => {
    const path = newPath();
    const v3 = new Database(path);
    migrate(v3, 'log', LOG_MIGRATIONS.filter((m) => m.version <= 3));
    v3.exec(`INSERT INTO herald_topics (name, partitions, created_at) VALUES ('work', 1, ${T0 - 100 * DAY})`);
    v3.exec(`INSERT INTO herald_partitions (pid, topic, partition) VALUES (1, 'work', 0)`);
    v3.exec(`INSERT INTO herald_offsets (group_name, pid, next_offset) VALUES ('legacy', 1, 0)`);
    v3.exec(`INSERT INTO herald_members (group_name, member_id, topics, heartbeat_at, session_timeout_ms) VALUES ('legacy', 'm', '["work"]', ${T0 - 100 * DAY}, 1000)`);
    v3.exec(`INSERT INTO herald_leases (group_name, pid, member_id, epoch) VALUES ('legacy', 1, 'm', 1)`);
    v3.close();

    const { log, clock } = sweeper(path, T0);
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual(['legacy']);
    expect(groupRows(path, 'legacy')).toEqual({ offsets: 1, leases: 1, members: 1 });
    // a process of the earlier release, still running on the migrated file, stores a start position
    const earlier = new Database(path);
    earlier.exec(`INSERT INTO herald_offsets (group_name, pid, next_offset) VALUES ('earlier', 1, 0) ON CONFLICT (group_name, pid) DO UPDATE SET next_offset = excluded.next_offset`);
    earlier.close();

    await clock.advance(R);
    await log.sweepRetention();
    expect(await log.listGroups(), 'legacy: R since the first sweep; earlier: first swept now').toEqual(['earlier']);
    expect(groupRows(path, 'legacy')).toEqual({ offsets: 0, leases: 0, members: 0 });
    await clock.advance(R);
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual([]);
  });

  it('keeps offsets 7 days by default, and forever with offsetsRetentionMs: null', async () => {
    const byDefault = newPath();
    await deadGroup(byDefault, 'g', T0);
    const { log, clock } = sweeper(byDefault, T0 + 7 * DAY - 1, { offsetsRetentionMs: undefined });
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual(['g']);
    await clock.advance(1);
    await log.sweepRetention();
    expect(await log.listGroups()).toEqual([]);

    const forever = newPath();
    await deadGroup(forever, 'g', T0);
    const keeper = sweeper(forever, T0 + 3650 * DAY, { offsetsRetentionMs: null });
    await keeper.log.sweepRetention();
    expect(await keeper.log.listGroups()).toEqual(['g']);
    expect(groupRows(forever, 'g')).toEqual({ offsets: 2, leases: 2, members: 1 });
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60000'])('refuses offsetsRetentionMs %s with invalid-options', (value) => {
    expect(() => sqliteLog({ path: newPath(), offsetsRetentionMs: value as number })).toThrow(expect.objectContaining({ code: 'invalid-options' }));
  });

  it('warns when the file was swept with another offsetsRetentionMs than this handle’s; a handle that does not sweep (the CLI’s) neither warns nor records', async () => {
    const path = newPath();
    const warnings: Line[] = [];
    sweeper(path, T0, { offsetsRetentionMs: null });
    handle(path, T0, { offsetsRetentionMs: 1_000, logger: capturingLogger('warn', warnings) });
    expect(warnings).toEqual([]);
    sweeper(path, T0, { offsetsRetentionMs: undefined, logger: capturingLogger('warn', warnings) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('offsetsRetentionMs null; this handle: 604800000');
    expect(warnings[0]!.fields).toEqual({ path, recorded: { offsetsRetentionMs: null }, own: { offsetsRetentionMs: 7 * DAY } });
  });
});
