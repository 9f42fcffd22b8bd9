import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError, resetTargets, type OffsetResetOptions, type StartPosition } from '@herald/core';
import { assignPartitions, type MemberTopics } from './assignment.js';
import type { RecordAccess } from './records.js';
import type { TopicRegistry } from './topics.js';
import type { WriteContext, WriteOp } from './writeQueue.js';

/** A partition lease this member holds: `epoch` fences its commits. */
export interface Lease {
  readonly pid: number;
  readonly epoch: number;
}

export interface HeartbeatInput {
  readonly group: string;
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly start: StartPosition;
  readonly sessionTimeoutMs: number;
  /** Leases the member believes it holds (including those it is giving up). */
  readonly owned: ReadonlyMap<number, number>;
}

export interface HeartbeatResult {
  /** Leases acquired in this heartbeat, with the position to fetch from. */
  readonly gained: readonly (Lease & { readonly position: number })[];
  /** Held leases another member took (this member was considered dead). */
  readonly lost: readonly number[];
  /** Held leases the assignment now gives to someone else: revoke, then release. */
  readonly surplus: readonly number[];
}

/** Group membership, partition leases and committed offsets, as write operations. */
export interface GroupAccess {
  heartbeat(input: HeartbeatInput): WriteOp<HeartbeatResult>;
  release(group: string, memberId: string, leases: readonly Lease[]): WriteOp<void>;
  leave(group: string, memberId: string): WriteOp<void>;
  /** Stores offsets whose lease (pid, epoch) this member still holds; returns how many were refused. */
  commit(group: string, memberId: string, offsets: readonly (Lease & { readonly offset: number })[]): WriteOp<number>;
  reset(options: OffsetResetOptions & { readonly sessionTimeoutMs: number }): WriteOp<void>;
}

interface LeaseRow { pid: number; member_id: string | null; epoch: number }

export function createGroupAccess(db: Database.Database, topics: TopicRegistry, records: RecordAccess): GroupAccess {
  const s = {
    upsertMember: db.prepare(
      'INSERT INTO herald_members (group_name, member_id, topics, heartbeat_at, session_timeout_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_name, member_id) DO UPDATE SET topics = excluded.topics, heartbeat_at = excluded.heartbeat_at, session_timeout_ms = excluded.session_timeout_ms',
    ),
    // a member is dead once its own session lapsed (a row of an earlier version has none: the reader's then)
    deleteDead: db.prepare('DELETE FROM herald_members WHERE group_name = ? AND heartbeat_at + COALESCE(session_timeout_ms, ?) < ?'),
    freeOrphans: db.prepare(
      'UPDATE herald_leases SET member_id = NULL WHERE group_name = ? AND member_id IS NOT NULL AND member_id NOT IN (SELECT member_id FROM herald_members WHERE group_name = ?)',
    ),
    members: db.prepare<[string], { member_id: string; topics: string }>('SELECT member_id, topics FROM herald_members WHERE group_name = ?'),
    leases: db.prepare<[string], LeaseRow>('SELECT pid, member_id, epoch FROM herald_leases WHERE group_name = ?'),
    takeLease: db.prepare(
      'INSERT INTO herald_leases (group_name, pid, member_id, epoch) VALUES (?, ?, ?, ?) ON CONFLICT (group_name, pid) DO UPDATE SET member_id = excluded.member_id, epoch = excluded.epoch',
    ),
    freeLease: db.prepare('UPDATE herald_leases SET member_id = NULL WHERE group_name = ? AND pid = ? AND member_id = ? AND epoch = ?'),
    freeAll: db.prepare('UPDATE herald_leases SET member_id = NULL WHERE group_name = ? AND member_id = ?'),
    deleteMember: db.prepare('DELETE FROM herald_members WHERE group_name = ? AND member_id = ?'),
    holds: db.prepare<[string, number, string, number], number>('SELECT 1 FROM herald_leases WHERE group_name = ? AND pid = ? AND member_id = ? AND epoch = ?').pluck(),
    offset: db.prepare<[string, number], number>('SELECT next_offset FROM herald_offsets WHERE group_name = ? AND pid = ?').pluck(),
    // every write of a position stamps it: the group is active (see offsetsRetention.ts)
    setOffset: db.prepare<[string, number, number, number]>(
      'INSERT INTO herald_offsets (group_name, pid, next_offset, active_at) VALUES (?, ?, ?, ?) ON CONFLICT (group_name, pid) DO UPDATE SET next_offset = excluded.next_offset, active_at = excluded.active_at',
    ),
  };

  function positionFor(ctx: WriteContext, pid: number, to: StartPosition): number {
    if (to === 'earliest') return records.start(pid);
    if (to === 'latest') return ctx.head(pid);
    return records.firstAtOrAfter(pid, to.timestamp) ?? ctx.head(pid);
  }

  function liveMembers(group: string, now: number, sessionTimeoutMs: number): MemberTopics[] {
    s.deleteDead.run(group, sessionTimeoutMs, now);
    s.freeOrphans.run(group, group);
    return s.members.all(group).map((m) => ({ id: m.member_id, topics: JSON.parse(m.topics) as string[] }));
  }

  return {
    heartbeat: (input) => (ctx) => {
      const { group, memberId } = input;
      for (const topic of input.topics) topics.resolve(topic, ctx.now);
      s.upsertMember.run(group, memberId, JSON.stringify(input.topics), ctx.now, input.sessionTimeoutMs);
      const members = liveMembers(group, ctx.now, input.sessionTimeoutMs);
      const counts = new Map(members.flatMap((m) => m.topics).map((t) => [t, topics.get(t)?.partitions ?? 0]));
      const mine = assignPartitions(members, counts).get(memberId) ?? [];
      const desired = new Set(mine.map((tp) => topics.get(tp.topic)!.pids[tp.partition]!));
      const leases = new Map(s.leases.all(group).map((row) => [row.pid, row]));
      const lost: number[] = [];
      const surplus: number[] = [];
      for (const [pid, epoch] of input.owned) {
        const row = leases.get(pid);
        if (row?.member_id !== memberId || row.epoch !== epoch) lost.push(pid);
        else if (!desired.has(pid)) surplus.push(pid);
      }
      const gained: (Lease & { position: number })[] = [];
      for (const [pid, row] of leases) {
        // a lease recorded as ours that we do not track (a failed release): free or re-take it
        if (row.member_id === memberId && !input.owned.has(pid) && !desired.has(pid)) s.freeLease.run(group, pid, memberId, row.epoch);
      }
      for (const pid of desired) {
        if (input.owned.has(pid)) continue;
        const row = leases.get(pid);
        if (row && row.member_id !== null && row.member_id !== memberId) continue; // its owner gives it up first
        const epoch = (row?.epoch ?? 0) + 1;
        s.takeLease.run(group, pid, memberId, epoch);
        let position = s.offset.get(group, pid);
        if (position === undefined) {
          position = positionFor(ctx, pid, input.start);
          s.setOffset.run(group, pid, position, ctx.now);
        }
        gained.push({ pid, epoch, position });
      }
      return { gained, lost, surplus };
    },
    release: (group, memberId, leases) => () => {
      for (const lease of leases) s.freeLease.run(group, lease.pid, memberId, lease.epoch);
    },
    leave: (group, memberId) => () => {
      s.freeAll.run(group, memberId);
      s.deleteMember.run(group, memberId);
    },
    commit: (group, memberId, offsets) => (ctx) => {
      let refused = 0;
      for (const o of offsets) {
        if (s.holds.get(group, o.pid, memberId, o.epoch) === undefined) refused++;
        else s.setOffset.run(group, o.pid, o.offset, ctx.now);
      }
      return refused;
    },
    reset: (options) => (ctx) => {
      const topic = topics.resolve(options.topic, ctx.now);
      const active = liveMembers(options.group, ctx.now, options.sessionTimeoutMs).filter((m) => m.topics.includes(options.topic));
      if (active.length > 0) {
        throw new HeraldError(CoreErrors.groupActive, `log: group ${options.group} has ${active.length} live member(s) on ${options.topic}; close them before resetting offsets`, {
          details: { group: options.group, topic: options.topic, members: active.map((m) => m.id) },
        });
      }
      const targets = resetTargets(options, 'log', topic.pids.length, (p) => ({ low: records.start(topic.pids[p]!), high: ctx.head(topic.pids[p]!) }));
      for (const p of targets.partitions) {
        const pid = topic.pids[p]!;
        s.setOffset.run(options.group, pid, 'offset' in targets ? targets.offset : positionFor(ctx, pid, targets.position), ctx.now);
      }
    },
  };
}
