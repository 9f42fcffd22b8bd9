import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createManualClock } from '@herald/core';
import { sqliteLog, type SqliteLog } from '@herald/sqlite';
import { startFixture, type Child } from './child.js';
import { recordingSink, tempDir, waitFor } from './helpers.js';

const tmp = tempDir();
const children: Child[] = [];
const logs: SqliteLog[] = [];
afterAll(async () => {
  for (const child of children) child.kill();
  await Promise.all(logs.map((log) => log.close()));
  tmp.remove();
});

const HEARTBEAT_MS = 100;
const SESSION_MS = 1000;

describe('partition leases across processes', () => {
  it('moves a killed member’s partitions to the live one within the session timeout, losing nothing', async () => {
    const path = join(tmp.dir, 'shared.db');
    const log = sqliteLog({ path, heartbeatMs: HEARTBEAT_MS, sessionTimeoutMs: SESSION_MS, topics: [{ name: 'work', partitions: 4 }] });
    logs.push(log);
    const child = startFixture('logMember', [path, 'g', String(HEARTBEAT_MS), String(SESSION_MS)]);
    children.push(child);
    await child.waitForLine((line) => line === 'owned 4');
    await log.publish(Array.from({ length: 100 }, (_, i) => ({ topic: 'work', key: `k${i}`, value: `v${i}` })));

    const local = recordingSink();
    const subscription = await log.subscribe({ group: 'g', topics: ['work'] }, {
      ...local.sink,
      async deliver(batch) {
        await local.sink.deliver(batch);
        await subscription.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.deliveries.at(-1)!.offset + 1 }]);
      },
    });
    await waitFor(() => local.owned.size === 2, 5000, 'the rebalance to 2/2');
    await child.waitForLine(() => child.lines.filter((l) => l.startsWith('owned ')).at(-1) === 'owned 2');
    await log.publish(Array.from({ length: 100 }, (_, i) => ({ topic: 'work', key: `k${i}`, value: `w${i}` })));
    // kill it mid-stream: once it has handled a few of the second wave
    await child.waitForLine(() => child.lines.filter((line) => / w\d+$/.test(line)).length >= 5);

    child.kill('SIGKILL');
    const killedAt = Date.now();
    await child.exited;
    await waitFor(() => local.owned.size === 4, SESSION_MS + 10 * HEARTBEAT_MS + 2000, 'the take-over');
    const takeOverMs = Date.now() - killedAt;
    expect(takeOverMs).toBeLessThan(SESSION_MS + 10 * HEARTBEAT_MS);

    // every record was delivered to one member or the other (the survivor resumes from the dead one's commits)
    const byChild = child.lines.filter((line) => line.startsWith('got ')).map((line) => line.split(' ')[3]!);
    await waitFor(() => new Set([...byChild, ...local.deliveries.map((d) => d.value)]).size === 200, 5000, 'all 200 records');
  });

  it('ignores commits from a member whose lease was taken over, and revokes its partitions', async () => {
    const path = join(tmp.dir, 'fencing.db');
    // member A's clock is frozen: after its first heartbeat it falls silent, as a stalled process would
    const frozen = createManualClock(Date.now());
    const stalled = sqliteLog({ path, clock: frozen, heartbeatMs: HEARTBEAT_MS, sessionTimeoutMs: SESSION_MS, topics: [{ name: 'work', partitions: 2 }] });
    const live = sqliteLog({ path, heartbeatMs: HEARTBEAT_MS, sessionTimeoutMs: SESSION_MS });
    logs.push(stalled, live);
    await live.publish([{ topic: 'work', key: 'a', value: '1' }]);
    const a = recordingSink();
    const b = recordingSink();
    const subA = await stalled.subscribe({ group: 'g', topics: ['work'] }, a.sink);
    expect(a.owned.size).toBe(2);
    await live.subscribe({ group: 'g', topics: ['work'] }, b.sink);
    await waitFor(() => b.owned.size === 2, SESSION_MS + 20 * HEARTBEAT_MS, 'B taking over A’s partitions');

    await subA.commit([{ topic: 'work', partition: 0, offset: 99 }, { topic: 'work', partition: 1, offset: 99 }]);
    const db = new Database(path, { readonly: true });
    try {
      const offsets = db.prepare<[], number>("SELECT next_offset FROM herald_offsets WHERE group_name = 'g'").pluck().all();
      expect(offsets).toHaveLength(2);
      expect(offsets.every((offset) => offset !== 99)).toBe(true);
    } finally {
      db.close();
    }
    expect(a.events).toEqual(['assigned 2']);
    await frozen.advance(HEARTBEAT_MS);
    await waitFor(() => a.events.includes('revoked 2'), 5000, 'A noticing it lost its leases');
    expect(a.owned.size).toBe(0);
    expect(b.owned.size).toBe(2);
  });

  it('revokes its partitions once its own session lapses without a heartbeat, and takes them back after', async () => {
    const path = join(tmp.dir, 'lapse.db');
    const log = sqliteLog({ path, heartbeatMs: HEARTBEAT_MS, sessionTimeoutMs: SESSION_MS, busyTimeoutMs: 200, topics: [{ name: 'work', partitions: 2 }] });
    logs.push(log);
    const a = recordingSink();
    await log.subscribe({ group: 'g', topics: ['work'] }, a.sink);
    expect(a.owned.size).toBe(2);
    // another process holds the file's write lock: the member's heartbeats fail
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      await waitFor(() => a.events.includes('revoked 2'), SESSION_MS + 40 * HEARTBEAT_MS, 'A revoking on its lapsed session');
      expect(a.owned.size).toBe(0);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    await waitFor(() => a.owned.size === 2, SESSION_MS + 40 * HEARTBEAT_MS, 'A taking its partitions back once it heartbeats again');
  });
});

