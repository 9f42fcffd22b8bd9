import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { defineEvent } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { SessionWindows, createTopology, defineLateEvent, streamTest } from '../src/index.js';

// Session windows give the same sessions and late records wherever the batches are cut, and the
// sessions of one key never overlap, not even with those already closed and emitted.

const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), seq: Type.Integer() }) });
const Sessions = defineEvent({
  type: 'Sessions',
  topic: 'sessions',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), start: Type.Integer(), end: Type.Integer(), seqs: Type.Array(Type.Integer()) }),
});
const LateClicks = defineLateEvent({ type: 'ClickLate', topic: 'clicks-late', value: Click.schema });

interface Sent {
  readonly userId: string;
  readonly seq: number;
  readonly at: number;
}

/** Feeds `sent` in batches of the sizes `cuts` gives, then a record far ahead per user so every session closes; returns every result and late record. */
async function run(sent: readonly Sent[], cuts: readonly number[], gapMs: number, graceMs: number): Promise<{ sessions: string[]; late: string[] }> {
  const topology = createTopology<MemoryTx>({ name: 'sessions', idleTimeoutMs: false });
  topology
    .from(Click)
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapAndGrace(gapMs, graceMs))
    .aggregate<number[]>('per-user', {
      initial: () => [],
      add: (seqs, r) => [...seqs, r.value.seq].sort((a, b) => a - b),
      merge: (a, b) => [...a, ...b].sort((x, y) => x - y),
      late: { to: LateClicks },
    })
    .to(Sessions, (r) => ({ userId: r.key, start: r.value.start, end: r.value.end, seqs: r.value.value }));
  const t = streamTest(topology, { stores: memoryStores() });
  const sessions: string[] = [];
  const late: string[] = [];
  const collect = () => {
    sessions.push(...t.published(Sessions).filter((s) => s.seqs.every((seq) => seq >= 0)).map((s) => `${s.userId}[${s.start},${s.end}]=${s.seqs.join(',')}`));
    late.push(...t.late().map((l) => `${l.key}@${l.timestamp}:${l.windows.map((w) => `[${w.start},${w.end}]`).join('')}`));
  };
  let i = 0;
  for (const n of cuts) {
    const slice = sent.slice(i, i + n);
    i += n;
    await t.when(Click, slice.map(({ userId, seq }) => ({ userId, seq })), { at: (_, j) => slice[j]!.at });
    collect();
  }
  const users = [...new Set(sent.map((s) => s.userId))];
  await t.when(Click, users.map((userId) => ({ userId, seq: -1 })), { at: 10_000_000 });
  collect();
  return { sessions: sessions.sort(), late: late.sort() };
}

/** Pairs of one key's sessions that overlap. */
function overlaps(sessions: readonly string[]): string[] {
  const parsed = sessions.map((s) => /^(.*)\[(\d+),(\d+)\]/.exec(s)!).map((m) => ({ text: m[0], key: m[1]!, start: Number(m[2]), end: Number(m[3]) }));
  return parsed.flatMap((a, i) => parsed.slice(i + 1).filter((b) => a.key === b.key && a.start <= b.end && b.start <= a.end).map((b) => `${a.text} ${b.text}`));
}

describe('session windows, wherever the batches are cut', () => {
  it('refuse, in one batch or in several, a record whose session would reach over a session closed before it', async () => {
    // gap 200, grace 150: v at 3 400 closes u's [3 000, 3 000] (at 3 351); u at 3 100 starts a new
    // session; u at 2 990 lies inside the closed one: joining [3 100, 3 100] would reach over it
    const sent = [
      { userId: 'u', seq: 1, at: 3_000 },
      { userId: 'v', seq: 2, at: 3_400 },
      { userId: 'u', seq: 3, at: 3_100 },
      { userId: 'u', seq: 4, at: 2_990 },
    ];
    const want = { sessions: ['u[3000,3000]=1', 'u[3100,3100]=3', 'v[3400,3400]=2'], late: ['u@2990:[2990,2990]'] };
    for (const cuts of [[4], [2, 2], [1, 1, 1, 1], [3, 1]]) expect({ cuts, ...(await run(sent, cuts, 200, 150)) }).toEqual({ cuts, ...want });
  });

  it('take a record inside an open session however far behind stream time it is: it moves no bound', async () => {
    const sent = [1_000, 1_150, 1_300, 1_450].map((at, seq) => ({ userId: 'u', seq, at }));
    // v moves stream time to 1 790: u's session [1 000, 1 450] stays open until 1 801, but a
    // session of u at 1 100 alone would have closed at 1 451
    sent.push({ userId: 'v', seq: 4, at: 1_790 }, { userId: 'u', seq: 5, at: 1_100 });
    for (const cuts of [[6], [5, 1]]) {
      expect(await run(sent, cuts, 200, 150)).toEqual({ sessions: ['u[1000,1450]=0,1,2,3,5', 'v[1790,1790]=4'], late: [] });
    }
  });

  it('give the same results and late records for random out-of-order workloads, one batch, one record per batch or random cuts, and no overlapping sessions', async () => {
    let seed = 11;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff;
    for (let round = 0; round < 12; round++) {
      const sent = Array.from({ length: 60 }, (_, seq) => ({ userId: `u${Math.floor(random() * 3)}`, seq, at: Math.max(0, 1_000 + seq * 40 - Math.floor(random() * 700)) }));
      const randomCuts: number[] = [];
      for (let i = 0; i < sent.length; ) {
        const n = 1 + Math.floor(random() * 9);
        randomCuts.push(n);
        i += n;
      }
      const whole = await run(sent, [sent.length], 200, 150);
      expect(overlaps(whole.sessions)).toEqual([]);
      expect(whole.sessions.length).toBeGreaterThan(3);
      expect(await run(sent, sent.map(() => 1), 200, 150)).toEqual(whole);
      expect(await run(sent, randomCuts, 200, 150)).toEqual(whole);
    }
  });
});
