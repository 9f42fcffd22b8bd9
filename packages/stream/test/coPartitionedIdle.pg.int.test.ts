import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, silentLogger, systemClock, type App, type Clock, type SqlTx } from '@herald/core';
import { pgStores, type PgStores } from '@herald/postgres';
import { sqliteLog, type SqliteLog } from '@herald/sqlite';
import { startPostgresCluster, type PostgresCluster } from '@herald/testing/postgres-cluster';
import { TimeWindows, createTopology } from '../src/index.js';
import { Click, Counts, Late, TOPICS, View } from './fixtures/activity.js';
import { readTopic, waitFor } from './support.js';

// coPartitionedIdle.int's scenario with the window state in PostgreSQL: two members of one group
// (two handles on one embedded log file, two pools on one database) each hold partition 0 of one
// of two co-partitioned topics, so their batches and punctuations meet on the window store's
// row locks, which there are real row locks (a missing row is inserted, an uncommitted one waited
// for). Wall time is the tests': the members' clocks read one time the test sets (their timers
// run in real time), so each step is decided, not raced.

const STORE = 'activity.per-user';

const SIZE_MS = 3_000;
const IDLE_MS = 1_500;
/** The punctuator's interval: no other timer of the apps uses it, so the sleeps of this length count its ticks. */
const PUNCTUATE_MS = 41;

let cluster: PostgresCluster | undefined;
let dataDir: string | undefined;
beforeAll(async () => {
  cluster = await startPostgresCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});
afterEach(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

/** The wall time every member reads, set by the test. */
const wall = { now: 0 };

/** A member's clock: `wall.now`, with real timers; counts the punctuator's sleeps. */
function testClock(): Clock & { readonly sleeps: () => number } {
  let sleeps = 0;
  return {
    now: () => wall.now,
    setTimer: (ms, callback) => systemClock.setTimer(ms, callback),
    sleep(ms, signal) {
      if (ms === PUNCTUATE_MS) sleeps++;
      return systemClock.sleep(ms, signal);
    },
    sleeps: () => sleeps,
  };
}

interface Member {
  readonly log: SqliteLog;
  readonly stores: PgStores;
  readonly app: App<SqlTx>;
  /** The topics whose partition 0 this member holds. */
  readonly held: Set<string>;
  /** Resolves once this member's punctuator has run `n` whole ticks that began after the call, each reading the wall time set before. */
  readonly ticks: (n: number) => Promise<void>;
}

/** A record's handler in the batch's transaction: it may hold the batch open. */
type Gate = (seq: number) => Promise<void>;

async function member(url: string, options: { maintenance: boolean; gate?: Gate }): Promise<Member> {
  const log = sqliteLog({ path: join(dataDir!, 'log.db'), topics: TOPICS, heartbeatMs: 100, sessionTimeoutMs: 1_000, maintenance: options.maintenance });
  const stores = pgStores({ connectionString: url });
  await stores.ready();
  const clock = testClock();
  const app = createApp<SqlTx>({ name: 'copartitioned', broker: log, stores, topics: TOPICS, logger: silentLogger, clock, relay: { idleMs: 20 } });
  const topology = createTopology<SqlTx>({ name: 'activity', idleTimeoutMs: IDLE_MS, punctuateIntervalMs: PUNCTUATE_MS });
  const source = topology.from([View, Click]);
  const gate = options.gate;
  if (gate) source.forEach(async (record) => gate(record.value.seq));
  source
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithNoGrace(SIZE_MS))
    .count('per-user', { late: { to: Late } })
    .to(Counts, (r) => ({ userId: r.key, start: r.value.start, n: r.value.value }));
  topology.install(app);
  const held = new Set<string>();
  app.instrumentation.on((fact) => {
    if (fact.kind === 'assigned' && fact.group === 'activity') for (const tp of fact.partitions) held.add(tp.topic);
    if (fact.kind === 'revoked' && fact.group === 'activity') for (const tp of fact.partitions) held.delete(tp.topic);
  });
  // a tick begins after a sleep ends and is over when the next sleep begins
  const ticks = async (n: number) => {
    const from = clock.sleeps();
    await waitFor(() => clock.sleeps() >= from + n + 1, 10_000, `${n} punctuator ticks`);
  };
  return { log, stores, app, held, ticks };
}

/** Starts two members and waits until each holds one of `views` and `clicks`; returns them as [views holder, clicks holder]. */
async function split(url: string, gate?: Gate): Promise<[Member, Member]> {
  dataDir = mkdtempSync(join(tmpdir(), 'herald-copart-pg-'));
  const a = await member(url, { maintenance: true, gate });
  const b = await member(url, { maintenance: false, gate });
  await a.app.start();
  await b.app.start();
  const dealt = () => a.held.size === 1 && b.held.size === 1 && [...a.held, ...b.held].sort().join() === 'clicks,views';
  await waitFor(dealt, 20_000, 'views and clicks to be held by different members');
  return a.held.has('views') ? [a, b] : [b, a];
}

const streamTime = async (m: Member) => (await m.stores.windows.read(STORE)).partitions[0]?.streamTime;

/** Backends of the member's database waiting for a lock. */
const lockWaits = async (m: Member) =>
  Number((await m.stores.pool.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0]!.n);

/** A wall time on a window boundary, near the real one (the log's retention goes by the real clock). */
const boundary = () => Math.ceil(Date.now() / SIZE_MS) * SIZE_MS + SIZE_MS;

describe('idle punctuation of co-partitioned topics held by different members, on PostgreSQL', () => {
  it('keeps the busy topic on time while the other is quiet, moves stream time on by the idle wall time once, and closes every window', async () => {
    const url = await cluster!.createDatabase('copart_idle');
    wall.now = boundary();
    const [views, clicks] = await split(url);
    try {
      const sent: number[] = [];
      const send = async (definition: typeof View | typeof Click) => {
        sent.push(wall.now);
        await clicks.app.publishDirect(definition, { userId: 'u', seq: sent.length }, { occurredAt: new Date(wall.now) });
        await waitFor(async () => (await streamTime(clicks)) === wall.now, 10_000, `the record at ${wall.now} to be applied`);
      };
      await send(View); // views then stay quiet
      // a click every 500 ms of wall time, for longer than the idle timeout plus a window: after
      // each, both punctuators look, and views is idle on its member, but not its partition number
      for (let step = 0; step < 12; step++) {
        wall.now += 500;
        await send(Click);
        await Promise.all([views.ticks(2), clicks.ticks(2)]);
        expect(await streamTime(views)).toBe(wall.now);
      }
      const last = wall.now;
      wall.now = last + IDLE_MS - 1; // not idle yet
      await Promise.all([views.ticks(2), clicks.ticks(2)]);
      expect(await streamTime(views)).toBe(last);

      wall.now = last + IDLE_MS; // idle: both members may punctuate, stream time moves on once
      await waitFor(async () => (await streamTime(views)) !== last, 10_000, 'a punctuation');
      await Promise.all([views.ticks(2), clicks.ticks(2)]);
      expect(await streamTime(views)).toBe(wall.now);

      const want = new Map<number, number>();
      for (const at of sent) want.set(Math.floor(at / SIZE_MS) * SIZE_MS, (want.get(Math.floor(at / SIZE_MS) * SIZE_MS) ?? 0) + 1);
      wall.now = Math.max(...want.keys()) + SIZE_MS; // the last window's end
      const counts = async () => (await readTopic(views.log, Counts.topic, 1)).map((e) => e.data as { start: number; n: number });
      await waitFor(async () => (await counts()).length >= want.size, 10_000, 'every window to close');
      await Promise.all([views.ticks(2), clicks.ticks(2)]);

      expect(await readTopic(views.log, Late.topic, 1)).toEqual([]);
      expect(new Map((await counts()).map((c) => [c.start, c.n]))).toEqual(want);
      expect(await streamTime(views)).toBe(wall.now);
      // the registers: each topic's last record, and up to when the punctuations accounted for wall time
      const registers = await Promise.all(['activity:clicks:last-record', 'activity:views:last-record', 'activity:clicks+views:punctuated'].map((s) => views.stores.windows.read(s)));
      expect(registers.map((r) => r.partitions.map((p) => p.streamTime))).toEqual([[last], [sent[0]], [wall.now]]);
    } finally {
      await views.app.close();
      await clicks.app.close();
    }
  }, 30_000);

  it('a punctuation waits for a batch that noted a record and has not committed, then counts that record', async () => {
    const url = await cluster!.createDatabase('copart_held');
    const HELD = 2; // the seq of the click whose batch waits for `release`
    let entered = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const gate: Gate = async (seq) => {
      if (seq !== HELD) return;
      entered = true;
      await released;
    };
    const t0 = boundary();
    wall.now = t0;
    const [views, clicks] = await split(url, gate);
    try {
      await clicks.app.publishDirect(View, { userId: 'u', seq: 1 }, { occurredAt: new Date(t0) });
      await waitFor(async () => (await streamTime(views)) === t0, 10_000, 'the view to be applied');

      // the first click's batch notes it, inserting the clicks register, and waits uncommitted
      wall.now = t0 + 1_000;
      await clicks.app.publishDirect(Click, { userId: 'u', seq: HELD }, { occurredAt: new Date(wall.now) });
      await waitFor(() => entered, 10_000, 'the click batch to hold its transaction open');
      // on what is committed, the partition number had nothing since t0: the views member punctuates
      // and waits at the clicks register
      wall.now = t0 + IDLE_MS + 100;
      await waitFor(async () => (await lockWaits(views)) > 0, 10_000, 'the punctuation to wait for the batch');
      expect(await streamTime(views)).toBe(t0);

      release();
      // the click, 600 ms before now, is recent: the punctuation that waited moves nothing
      await waitFor(async () => (await streamTime(views)) === t0 + 1_000 && (await lockWaits(views)) === 0, 10_000, 'the click batch to commit');
      await Promise.all([views.ticks(2), clicks.ticks(2)]);
      expect(await streamTime(views)).toBe(t0 + 1_000);
      expect(await readTopic(views.log, Late.topic, 1)).toEqual([]);

      // once idle from the click, stream time reaches the wall time, no further
      wall.now = t0 + 1_000 + IDLE_MS;
      await waitFor(async () => (await streamTime(views)) === wall.now, 10_000, 'the idle punctuation');
      await Promise.all([views.ticks(2), clicks.ticks(2)]);
      expect(await streamTime(views)).toBe(wall.now);
      wall.now = t0 + SIZE_MS;
      await waitFor(async () => (await readTopic(views.log, Counts.topic, 1)).length > 0, 10_000, 'the window to close');
      expect((await readTopic(views.log, Counts.topic, 1)).map((e) => e.data)).toEqual([{ userId: 'u', start: t0, n: 2 }]);
    } finally {
      release();
      await views.app.close();
      await clicks.app.close();
    }
  }, 30_000);
});
