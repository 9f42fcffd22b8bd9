import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, silentLogger, type Envelope, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { Click, ClickCounts, LateClicks, countsOf, expected, lateOf, readTopic, topics, waitFor, workload } from './support.js';

// The windowed count in a process killed with SIGKILL at moments picked at random, restarted each
// time: the final counts equal those computed without faults.

const PARTITIONS = 3;
const dataDir = mkdtempSync(join(tmpdir(), 'herald-stream-kill-'));
const running = new Set<ReturnType<typeof spawn>>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts a member process and resolves once it printed `ready`. */
async function startMember() {
  const file = fileURLToPath(new URL('./fixtures/streamMember.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', file, dataDir, String(PARTITIONS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => (running.delete(child), resolve())));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`member not ready in 30 s; stderr: ${stderr}`)), 30_000);
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

describe('the windowed count under kill -9', () => {
  it('gives the counts of a run without faults, each window once, across random kills and restarts', async () => {
    const sent = workload(1_500, PARTITIONS);
    const want = expected(sent, PARTITIONS);
    const engine = sqliteEngine({ dataDir });
    await engine.broker.ensureTopics(topics(PARTITIONS));
    const publisher = createApp<SqlTx>({ broker: engine.broker, stores: engine.stores, logger: silentLogger, relay: false });
    for (const c of sent) await publisher.publishDirect(Click, { userId: c.userId, seq: c.seq }, { occurredAt: new Date(c.at) });
    await publisher.close();

    const next = random(11);
    let killedMidway = 0;
    for (let round = 0; round < 6; round++) {
      const member = await startMember();
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(next() * 400)));
      await member.kill();
      const reader = sqliteEngine({ dataDir });
      const state = await reader.stores.windows.read('clicks.per-user');
      await reader.close();
      if (!state.partitions.every((p) => p.streamTime === sent.at(-1)!.at)) killedMidway++;
    }
    expect(killedMidway).toBeGreaterThan(0); // the kills landed before the end, not after it

    const last = await startMember();
    const reader = sqliteEngine({ dataDir });
    try {
      await waitFor(
        async () => {
          const state = await reader.stores.windows.read('clicks.per-user');
          return state.partitions.length === PARTITIONS && state.partitions.every((p) => p.streamTime === sent.at(-1)!.at) && (await reader.stores.outbox.backlog()).length === 0;
        },
        90_000,
        'the last member to finish',
      );
      await last.kill();
      const results = distinct(await readTopic(reader.broker, ClickCounts.topic, PARTITIONS));
      expect(countsOf(results)).toEqual(want.counts);
      expect(lateOf(distinct(await readTopic(reader.broker, LateClicks.topic, PARTITIONS)))).toEqual(want.late);
      const state = await reader.stores.windows.read('clicks.per-user');
      expect(state.partitions.reduce((sum, p) => sum + p.late, 0)).toBe(want.late.length);
    } finally {
      await reader.close();
    }
  }, 240_000);
});
