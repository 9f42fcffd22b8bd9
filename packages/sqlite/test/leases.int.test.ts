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

/** A group's members and leases in the file, as another process sees them. */
function groupRows(path: string, group = 'g') {
  const db = new Database(path, { readonly: true });
  try {
    return {
      members: db.prepare<[string], { member_id: string; heartbeat_at: number }>('SELECT member_id, heartbeat_at FROM herald_members WHERE group_name = ?').all(group),
      leases: db.prepare<[string], { pid: number; member_id: string | null }>('SELECT pid, member_id FROM herald_leases WHERE group_name = ? ORDER BY pid').all(group),
    };
  } finally {
    db.close();
  }
}

describe('partition leases across processes', () => {
  it('moves a killed member’s partitions to the live one, losing nothing', async () => {
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
    await child.exited;
    // how soon is the next test's: here, that it happens at all (the wait only bounds a hang)
    await waitFor(() => local.owned.size === 4, 30_000, 'the take-over');

    // every record was delivered to one member or the other (the survivor resumes from the dead one's commits)
    const byChild = child.lines.filter((line) => line.startsWith('got ')).map((line) => line.split(' ')[3]!);
    await waitFor(() => new Set([...byChild, ...local.deliveries.map((d) => d.value)]).size === 200, 5000, 'all 200 records');
  });

  it('takes a silent member’s leases over once its session has passed, not before; ignores its commits, and revokes its partitions', async () => {
    const path = join(tmp.dir, 'fencing.db');
    // member A's clock is frozen: after its first heartbeat it falls silent, as a stalled process would
    const frozen = createManualClock(Date.now());
    // member B's clock moves only when told, from the same instant: the session is measured on it
    const clock = createManualClock(frozen.now());
    const silentSince = clock.now();
    const stalled = sqliteLog({ path, clock: frozen, heartbeatMs: HEARTBEAT_MS, sessionTimeoutMs: SESSION_MS, topics: [{ name: 'work', partitions: 2 }] });
    const live = sqliteLog({ path, clock, heartbeatMs: HEARTBEAT_MS, sessionTimeoutMs: SESSION_MS });
    logs.push(stalled, live);
    await live.publish([{ topic: 'work', key: 'a', value: '1' }]);
    const a = recordingSink();
    const b = recordingSink();
    const subA = await stalled.subscribe({ group: 'g', topics: ['work'] }, a.sink);
    expect(a.owned.size).toBe(2);
    const [memberA] = groupRows(path).members.map((m) => m.member_id);
    await live.subscribe({ group: 'g', topics: ['work'] }, b.sink);

    // B heartbeats when A's session has just run out, not yet passed: A still counts as alive
    await clock.advance(SESSION_MS);
    await waitFor(() => groupRows(path).members.some((m) => m.heartbeat_at === silentSince + SESSION_MS), 5000, 'B heartbeating at the end of A’s session');
    expect(groupRows(path).leases.map((lease) => lease.member_id), 'no take-over before the session has passed').toEqual([memberA, memberA]);
    // its next heartbeat comes after it: B takes both leases over
    await clock.advance(HEARTBEAT_MS);
    await waitFor(() => b.owned.size === 2, 5000, 'B taking over A’s partitions');
    expect(groupRows(path).leases.every((lease) => lease.member_id !== memberA)).toBe(true);

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

