import { Type } from '@sinclair/typebox';
import { canReadRecords, decodeEnvelope, defineEvent, partitionForKey, type Broker, type Envelope } from '@herald/core';
import { TimeWindows, createTopology, defineLateEvent, type Topology } from '../src/index.js';

// What the engine tests share: a windowed click count, a workload, and the results the test
// computes on its own from what it sent, to compare with what the topology emitted.

export const Click = defineEvent({ type: 'Click', topic: 'clicks', key: (d) => d.userId, schema: Type.Object({ userId: Type.String(), seq: Type.Integer() }) });
export const ClickCounts = defineEvent({
  type: 'ClickCounts',
  topic: 'click-counts',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), start: Type.Integer(), clicks: Type.Integer() }),
});
export const LateClicks = defineLateEvent({ type: 'ClickLate', topic: 'clicks-late', value: Click.schema });

export const SIZE_MS = 10_000;
export const GRACE_MS = 3_000;
/** The topics, `partitions` each. */
export const topics = (partitions: number) => ['clicks', 'click-counts', 'clicks-late'].map((name) => ({ name, partitions }));

/**
 * Counts each user's clicks per tumbling window (default 10 s, 3 s grace); final results only. No
 * idle punctuation within a test's life unless `idleTimeoutMs` says otherwise.
 */
export function clickTopology<Tx>(options: { sizeMs?: number; graceMs?: number; idleTimeoutMs?: number; punctuateIntervalMs?: number } = {}): Topology<Tx> {
  const { sizeMs = SIZE_MS, graceMs = GRACE_MS, idleTimeoutMs = 3_600_000, punctuateIntervalMs } = options;
  const topology = createTopology<Tx>({ name: 'clicks', idleTimeoutMs, punctuateIntervalMs });
  topology
    .from(Click)
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(sizeMs, graceMs))
    .count('per-user', { late: { to: LateClicks } })
    .to(ClickCounts, (r) => ({ userId: r.key, start: r.value.start, clicks: r.value.value }));
  return topology;
}

export interface SentClick {
  readonly userId: string;
  readonly seq: number;
  /** Event time, ms. */
  readonly at: number;
}

/**
 * `count` clicks of 8 users, event time moving 150 ms per click with up to 2.5 s of jitter
 * backwards (inside the grace), and every 40th click 20 s in the past (late); then, per
 * partition, one click far ahead from a user of its own, so every window of the workload closes.
 */
export function workload(count: number, partitions: number): SentClick[] {
  const sent: SentClick[] = [];
  for (let seq = 0; seq < count; seq++) {
    const base = 30_000 + seq * 150;
    const at = seq % 40 === 39 ? base - 20_000 : base - ((seq * 7_919) % 2_500);
    sent.push({ userId: `u-${seq % 8}`, seq, at });
  }
  const flushAt = 30_000 + count * 150 + 60_000;
  for (let partition = 0; partition < partitions; partition++) {
    const userId = flushUser(partition, partitions);
    sent.push({ userId, seq: count + partition, at: flushAt });
  }
  return sent;
}

/** A user id of the flush clicks, in `partition`. */
export function flushUser(partition: number, partitions: number): string {
  for (let i = 0; ; i++) if (partitionForKey(`flush-${i}`, partitions) === partition) return `flush-${i}`;
}

/** What the topology must emit for `sent` (in publish order): the final counts and the late clicks, computed here independently. */
export function expected(sent: readonly SentClick[], partitions: number): { counts: string[]; late: string[] } {
  const streamTime = new Map<number, number>();
  const windows = new Map<string, { userId: string; start: number; partition: number; clicks: number }>();
  const late: string[] = [];
  for (const click of sent) {
    const partition = partitionForKey(click.userId, partitions);
    const now = Math.max(streamTime.get(partition) ?? click.at, click.at);
    streamTime.set(partition, now);
    const start = Math.floor(click.at / SIZE_MS) * SIZE_MS;
    if (start + SIZE_MS + GRACE_MS <= now) {
      late.push(`${click.userId}#${click.seq}`);
      continue;
    }
    const id = `${click.userId}@${start}`;
    const window = windows.get(id) ?? { userId: click.userId, start, partition, clicks: 0 };
    window.clicks++;
    windows.set(id, window);
  }
  const counts = [...windows.values()]
    .filter((w) => w.start + SIZE_MS + GRACE_MS <= streamTime.get(w.partition)!)
    .map((w) => `${w.userId}@${w.start}=${w.clicks}`);
  return { counts: counts.sort(), late: late.sort() };
}

/** Every event of a topic, decoded, partition after partition, in offset order. */
export async function readTopic(broker: Broker, topic: string, partitions: number): Promise<Envelope[]> {
  if (!canReadRecords(broker)) throw new Error('the broker cannot read records');
  const events: Envelope[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    for (let from = 0; ; ) {
      const records = await broker.read({ topic, partition, from, limit: 1000 });
      if (records.length === 0) break;
      events.push(...records.map((r) => decodeEnvelope(r.value, r.headers)));
      from = records.at(-1)!.offset + 1;
    }
  }
  return events;
}

/** The counts as `user@start=clicks`, sorted, doubles kept. */
export const countsOf = (events: readonly Envelope[]) => events.map((e) => e.data as { userId: string; start: number; clicks: number }).map((d) => `${d.userId}@${d.start}=${d.clicks}`).sort();

/** The late clicks as `user#seq`, sorted, doubles kept. */
export const lateOf = (events: readonly Envelope[]) => events.map((e) => e.data as { value: { userId: string; seq: number } }).map((d) => `${d.value.userId}#${d.value.seq}`).sort();

/** Polls `condition` until it holds or `timeoutMs` passes (integration tests only). */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
