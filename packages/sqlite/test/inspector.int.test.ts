import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '@herald/core';
import { sqliteLog, type SqliteLog } from '@herald/sqlite';
import { recordingSink, tempDir, waitFor } from './helpers.js';

const tmp = tempDir('herald-inspector-');
afterAll(() => tmp.remove());

let counter = 0;
const open: SqliteLog[] = [];
function newLog(path = join(tmp.dir, `log-${++counter}.db`)): { log: SqliteLog; path: string } {
  const log = sqliteLog({ path, heartbeatMs: 100, sessionTimeoutMs: 1000 });
  open.push(log);
  return { log, path };
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((log) => log.close()));
});

const record = (i: number) => ({ topic: 'small', key: 'k', value: 'x'.repeat(98) + (i % 10) });

describe('sqliteLog inspection (what the port leaves to the engine)', () => {
  it('reports the start position stored when a member took a partition, before any commit', async () => {
    const { log, path } = newLog();
    await log.ensureTopics([{ name: 'small', partitions: 1 }]);
    await log.publish([record(0), record(1), record(2)]);
    const subscription = await log.subscribe({ group: 'late', topics: ['small'], start: 'latest' }, recordingSink().sink);
    await log.publish([record(3), record(4)]);
    await subscription.close();
    const { log: other } = newLog(path);
    expect(await other.describeGroup('late')).toEqual({
      group: 'late',
      members: 0,
      partitions: [{ topic: 'small', partition: 0, committed: 3, end: 5, lag: 2 }],
      totalLag: 2,
    });
  });

  it('does not count records retention deleted before the group read them', async () => {
    const { log } = newLog();
    await log.ensureTopics([{ name: 'small', partitions: 1, retentionBytes: 1000 }]);
    await log.publish(Array.from({ length: 4 }, (_, i) => record(i)));
    const seen = recordingSink({ autoCommit: () => subscription });
    const subscription = await log.subscribe({ group: 'slow', topics: ['small'] }, seen.sink);
    await waitFor(async () => (await log.describeGroup('slow')).partitions[0]?.committed === 4, 5000, 'four records committed');
    await subscription.close();
    await log.publish(Array.from({ length: 16 }, (_, i) => record(4 + i)));
    expect(await log.sweepRetention()).toBe(10);

    const [topic] = await log.describeTopics(['small']);
    expect(topic).toEqual({ name: 'small', partitions: [{ partition: 0, start: 10, end: 20 }], retentionMs: 7 * 24 * 3_600_000, retentionBytes: 1000 });
    // committed 4, but offsets 4..9 are gone: the group resumes at 10 and has 10 records to read
    expect(await log.describeGroup('slow')).toEqual({ group: 'slow', members: 0, partitions: [{ topic: 'small', partition: 0, committed: 4, end: 20, lag: 10 }], totalLag: 10 });
  });

  it("reports the sweeping handle's retention for topics that declare none, whatever the reader's defaults", async () => {
    const path = join(tmp.dir, `log-${++counter}.db`);
    const app = sqliteLog({ path, retentionMs: 30 * 24 * 3_600_000, retentionBytes: 5_000_000 });
    open.push(app);
    await app.ensureTopics([{ name: 'plain', partitions: 1 }, { name: 'declared', partitions: 1, retentionMs: 60_000 }]);
    // the CLI's handle: the log's defaults (7 days, no size limit) and no housekeeping
    const reader = sqliteLog({ path, maintenance: false });
    open.push(reader);
    const described = await reader.describeTopics();
    expect(described.map(({ name, retentionMs, retentionBytes }) => ({ name, retentionMs, retentionBytes }))).toEqual([
      { name: 'declared', retentionMs: 60_000, retentionBytes: 5_000_000 },
      { name: 'plain', retentionMs: 30 * 24 * 3_600_000, retentionBytes: 5_000_000 },
    ]);
    // an app that keeps records forever says so too (null is recorded, not skipped)
    await app.close();
    open.push(sqliteLog({ path, retentionMs: null }));
    expect((await reader.describeTopics(['plain']))[0]).toMatchObject({ retentionMs: null, retentionBytes: null });
  });

  it('counts a member that died until its session lapses, as the group does', async () => {
    const { path } = newLog();
    const { log: doomed } = newLog(path);
    await doomed.subscribe({ group: 'g', topics: ['small'] }, recordingSink().sink);
    await doomed.crash();
    // the observer reads by its own clock, which the test moves by hand
    const clock = createManualClock(Date.now());
    const observer = sqliteLog({ path, clock, sessionTimeoutMs: 60_000 });
    open.push(observer);
    expect((await observer.describeGroup('g')).members, 'no leave was written: live within its session').toBe(1);
    await clock.advance(1_001);
    expect((await observer.describeGroup('g')).members, 'its own session (1 s) has lapsed, whatever the observer\'s').toBe(0);
    expect(await observer.listGroups(), 'its stored positions keep the group listed').toEqual(['g']);
  });

  it('judges a member by its own session: a handle with a shorter one neither drops it nor resets under it', async () => {
    const { path } = newLog();
    // the app's member: a long session (a slow heartbeat), then its process dies without a leave
    const app = sqliteLog({ path, heartbeatMs: 1_000, sessionTimeoutMs: 10_000, topics: [{ name: 'small', partitions: 1 }] });
    open.push(app);
    await app.subscribe({ group: 'g', topics: ['small'] }, recordingSink().sink);
    await app.crash();
    // an operator's tool beside it with the default session (3 s), 5 s later
    const clock = createManualClock(Date.now());
    const tool = sqliteLog({ path, clock });
    open.push(tool);
    await clock.advance(5_000);
    expect((await tool.describeGroup('g')).members, 'live within its own 10 s session').toBe(1);
    await expect(tool.resetOffsets({ group: 'g', topic: 'small', to: 'earliest' })).rejects.toMatchObject({ code: 'group-active' });
    await clock.advance(5_001);
    expect((await tool.describeGroup('g')).members).toBe(0);
    await tool.resetOffsets({ group: 'g', topic: 'small', to: 'earliest' });
  });

  it('refuses inspection after close', async () => {
    const { log } = newLog();
    await log.close();
    await expect(log.describeTopics()).rejects.toMatchObject({ code: 'closed' });
    await expect(log.listGroups()).rejects.toMatchObject({ code: 'closed' });
    await expect(log.describeGroup('g')).rejects.toMatchObject({ code: 'closed' });
  });
});
