import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, jsonLogger, silentLogger, type Broker, type Envelope, type OutboxBacklog, type SqlTx, type Stores, type TopicAdmin, type WindowStores } from '@herald/core';
import { kafkaBroker } from '@herald/kafka';
import { pgStores } from '@herald/postgres';
import { sqliteEngine } from '@herald/sqlite';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import { startPostgresCluster } from '@herald/testing/postgres-cluster';
import { Click, ClickCounts, LateClicks, countsOf, expected, lateOf, readTopic, topics, waitFor, workload } from './support.js';

// The windowed count in a process killed with SIGKILL at moments picked at random, restarted each
// time: the final counts equal those computed without faults. On the embedded engine, and on
// PostgreSQL (window state, inbox, outbox) + Kafka (the mock cluster).

const running = new Set<ReturnType<typeof spawn>>();
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Starts a member process (`fixtures/streamMember.ts` with `args`) and resolves once it printed `ready`. */
async function startMember(args: readonly string[]) {
  const file = fileURLToPath(new URL('./fixtures/streamMember.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => (running.delete(child), resolve())));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`member not ready in 60 s; stderr: ${stderr}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => line === 'ready' && (clearTimeout(timer), resolve()));
    void exited.then(() => reject(new Error(`member exited before ready; stderr: ${stderr}`)));
  });
  return { kill: async () => (child.kill('SIGKILL'), await exited) };
}

/** A small deterministic generator (mulberry32), so the kill moments are the same on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One event per id: the relay publishes at least once, so a member killed between the append and the mark makes the next one publish the same event again. */
function distinct(events: readonly Envelope[]): Envelope[] {
  return [...new Map(events.map((e) => [e.id, e])).values()];
}

/** Where a kill scenario runs: the member's arguments, and the engine as the test process sees it. */
interface Setup {
  readonly partitions: number;
  readonly memberArgs: readonly string[];
  /** Opens the engine in the test process (to publish, read the window state and the results). */
  open(): Promise<{ broker: Broker & TopicAdmin; stores: Stores<SqlTx> & WindowStores<SqlTx> & { outbox: OutboxBacklog }; close(): Promise<void> }>;
}

async function killScenario(setup: Setup, options: { events: number; rounds: number; seed: number }): Promise<void> {
  const { partitions } = setup;
  const sent = workload(options.events, partitions);
  const want = expected(sent, partitions);
  const last = sent.at(-1)!.at;
  const writer = await setup.open();
  await writer.broker.ensureTopics(topics(partitions));
  // closing the app closes its engine
  const publisher = createApp<SqlTx>({ broker: writer.broker, stores: writer.stores, logger: silentLogger, relay: false });
  const ids: string[] = [];
  for (const c of sent) ids.push((await publisher.publishDirect(Click, { userId: c.userId, seq: c.seq }, { occurredAt: new Date(c.at) })).id);
  await publisher.close();
  const engine = await setup.open();
  try {
    const first = sent[0]!.at;
    /** How far the members got, from 0 to 1: the partitions' stream times between the first and the last click. */
    const progress = async () => {
      const state = await engine.stores.windows.read('clicks.per-user');
      return state.partitions.reduce((sum, p) => sum + ((p.streamTime ?? first) - first), 0) / (partitions * (last - first));
    };
    const finished = async () => {
      const state = await engine.stores.windows.read('clicks.per-user');
      return state.partitions.length === partitions && state.partitions.every((p) => p.streamTime === last);
    };

    // each member is killed once the work passed a point picked at random in its share of the run
    // (later for each round), so kills land inside the work, not before it started or after it ended
    const next = random(options.seed);
    let killedMidway = 0;
    for (let round = 0; round < options.rounds; round++) {
      const member = await startMember(setup.memberArgs);
      const threshold = (round + next()) / (options.rounds + 1);
      await waitFor(async () => (await progress()) >= threshold, 120_000, `progress ${threshold.toFixed(2)} in round ${round}`);
      await member.kill();
      if (!(await finished())) killedMidway++;
    }
    expect(killedMidway).toBe(options.rounds); // every kill landed before the end

    const survivor = await startMember(setup.memberArgs);
    await waitFor(async () => (await finished()) && (await engine.stores.outbox.backlog()).length === 0, 120_000, 'the last member to finish');
    await survivor.kill();
    expect(countsOf(distinct(await readTopic(engine.broker, ClickCounts.topic, partitions)))).toEqual(want.counts);
    expect(lateOf(distinct(await readTopic(engine.broker, LateClicks.topic, partitions)))).toEqual(want.late);
    const state = await engine.stores.windows.read('clicks.per-user');
    expect(state.partitions.reduce((sum, p) => sum + p.late, 0)).toBe(want.late.length);
    // every click applied (marked in the clicks group's inbox), and none given up on
    const marks = (await engine.stores.inbox.findHandled(ids)).filter((m) => m.group === 'clicks');
    expect(new Set(marks.map((m) => m.eventId)).size).toBe(ids.length);
    expect(await engine.stores.deadLetters.list()).toEqual([]);
  } finally {
    await engine.close();
  }
}

describe('the windowed count under kill -9', () => {
  it('gives the counts of a run without faults, each window once, across random kills and restarts (embedded)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-stream-kill-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    await killScenario(
      {
        partitions: 3,
        memberArgs: [dataDir, '3'],
        open: async () => sqliteEngine({ dataDir }),
      },
      { events: 1_500, rounds: 6, seed: 11 },
    );
  }, 240_000);

  it('gives the counts of a run without faults, each window once, across random kills and restarts (PostgreSQL + Kafka)', async () => {
    const [mock, cluster] = await Promise.all([startKafkaMock({ brokers: 1 }), startPostgresCluster()]);
    cleanups.push(() => mock.stop(), () => cluster.stop());
    const url = await cluster.createDatabase('stream_kill');
    // the mock creates every topic with 4 partitions
    await killScenario(
      {
        partitions: 4,
        memberArgs: [url, '4', mock.brokers.join(',')],
        open: async () => {
          const stores = pgStores({ connectionString: url });
          await stores.ready();
          const broker = kafkaBroker({ brokers: mock.brokers, logger: jsonLogger({ level: 'error' }), clientLogLevel: 'silent' });
          return { broker, stores, close: async () => (await broker.close(), await stores.close()) };
        },
      },
      { events: 600, rounds: 4, seed: 17 },
    );
  }, 300_000);
});
