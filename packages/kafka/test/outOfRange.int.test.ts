import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, defineEvent, jsonLogger, type DeliverySink, type InstrumentationEvent, type Logger, type SkippedRecords } from '@herald/core';
import { memoryStores, type MemoryTx } from '@herald/testing';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker, type KafkaBroker } from '../src/index.js';
import { buildKafkaBroker } from '../src/internal/buildBroker.js';
import { unique, waitFor } from './helpers.js';
import { killableSockets } from './killableSockets.js';

// No silent skips on Kafka: the mock cluster keeps about 5 MiB per partition and drops the oldest
// records without a word; a group that was behind them is told which it lost and follows its
// onOffsetOutOfRange policy (kafkajs alone resets with one generic log line).

let mock: KafkaMock;
let inspector: KafkaBroker;
beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1 });
  inspector = kafkaBroker(options());
});
afterAll(async () => {
  await inspector?.close();
  await mock?.stop();
});

function options() {
  return {
    brokers: mock.brokers,
    logger: jsonLogger({ level: 'silent' }),
    clientLogLevel: 'silent' as const,
    fetch: { maxWaitMs: 10 },
    group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
  };
}

interface Logged {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

function capturingLogger(lines: Logged[]): Logger {
  const log = (level: string) => (message: string, fields: Record<string, unknown> = {}) => void lines.push({ level, message, fields });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

function stepOn(topic: string) {
  return defineEvent({ type: 'Step', topic, key: () => 'one-key', schema: Type.Object({ seq: Type.Integer(), padding: Type.String() }) });
}

function open(topic: string, group: string, policy?: 'earliest' | 'stop', tuning: { maxInFlight?: number; gate?: (seq: number) => Promise<void> } = {}) {
  const lines: Logged[] = [];
  const facts: InstrumentationEvent[] = [];
  const handled: number[] = [];
  const app = createApp<MemoryTx>({
    broker: kafkaBroker(options()),
    stores: memoryStores(),
    logger: capturingLogger(lines),
    relay: { idleMs: 5 },
    groups: { [group]: { commitIntervalMs: 20, ...(policy ? { onOffsetOutOfRange: policy } : {}), ...(tuning.maxInFlight ? { maxInFlight: tuning.maxInFlight, concurrency: 1 } : {}) } },
  });
  app.on(stepOn(topic), { group }, async (event) => {
    await tuning.gate?.(event.data.seq);
    handled.push(event.data.seq);
  });
  app.instrumentation.on((fact) => facts.push(fact));
  return { app, lines, facts, handled };
}

const partitionOf = async (topic: string) => (await inspector.describeTopics([topic]))[0]!.partitions.find((p) => p.end > 0)!;
const committedIn = async (topic: string, group: string) => (await inspector.describeGroup(group)).partitions.find((p) => p.topic === topic && p.committed !== null)?.committed;

/** Publishes `Step`s `from` to `to - 1` of 400 KB each from an app that runs no group. */
async function publishLarge(topic: string, from: number, to: number): Promise<void> {
  const producer = open(topic, unique('no-group'));
  await producer.app.start({ groups: false });
  for (let seq = from; seq < to; seq++) await producer.app.publish(stepOn(topic), { seq, padding: 'x'.repeat(400_000) });
  await expect.poll(async () => (await partitionOf(topic)).end, { timeout: 60_000 }).toBe(to);
  await producer.app.close();
}

/** The group reads seqs 0..2 and commits; then 16 events of 400 KB push the partition past the mock's 5 MiB, deleting them. */
async function groupBehindRetention(): Promise<{ topic: string; group: string; start: number; end: number }> {
  const topic = unique('skips');
  const group = unique('worker');
  const first = open(topic, group);
  await first.app.start();
  for (let seq = 0; seq < 3; seq++) await first.app.publish(stepOn(topic), { seq, padding: '' });
  await waitFor('the group to handle 3', () => first.handled.length === 3);
  await expect.poll(() => committedIn(topic, group), { timeout: 20_000 }).toBe(3);
  await first.app.close();
  await publishLarge(topic, 3, 19);
  const { start, end } = await partitionOf(topic);
  expect(start, 'the mock deleted records the group had not read').toBeGreaterThan(3);
  return { topic, group, start, end };
}

describe('a group behind the Kafka mock cluster’s retention', () => {
  it('reports the records it lost and, by default, reads on from the first retained one', async () => {
    const { topic, group, start, end } = await groupBehindRetention();
    const run = open(topic, group);
    await run.app.start();
    await expect.poll(() => committedIn(topic, group), { timeout: 30_000 }).toBe(end);
    expect(run.handled).toEqual(Array.from({ length: end - start }, (_, i) => start + i));
    const partition = (await partitionOf(topic)).partition;
    expect(run.facts.filter((f) => f.kind === 'records-skipped')).toEqual([
      { kind: 'records-skipped', group, topic, partition, from: 3, to: start, count: start - 3, resumed: true },
    ]);
    const error = run.lines.find((l) => l.level === 'error' && (l.fields.error as { code?: string } | undefined)?.code === 'offset-out-of-range');
    expect(error?.message).toBe(
      `group ${group} skipped ${start - 3} record(s) of ${topic}/${partition}: offsets 3 to ${start - 1} were deleted by retention before the group read them; reading on from offset ${start}`,
    );
    await run.app.close();
  }, 120_000);

  it("with onOffsetOutOfRange 'stop', stops the group and commits nothing past the gap", async () => {
    const { topic, group, start } = await groupBehindRetention();
    const run = open(topic, group, 'stop');
    await run.app.start();
    await waitFor('the gap reported', () => run.facts.some((f) => f.kind === 'records-skipped'), 30_000);
    await waitFor('the group to stop', () => run.lines.some((l) => l.message === 'partitions revoked'), 30_000);
    expect(run.handled).toEqual([]);
    expect(run.facts.filter((f) => f.kind === 'records-skipped')).toMatchObject([{ from: 3, to: start, resumed: false }]);
    expect(await committedIn(topic, group), 'the commit the client reset is not what a restart sees').toBe(3);
    await run.app.close();
  }, 120_000);

  it('reports what a running member lost when retention passed its fetch position, and loses nothing else', async () => {
    const topic = unique('skips');
    const group = unique('worker');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    // seq 0 holds the only in-flight slot, so the member stops fetching while retention runs past it
    const run = open(topic, group, undefined, { maxInFlight: 1, gate: async (seq) => void (seq === 0 && ((holding = true), await released)) });
    await run.app.start();
    for (let seq = 0; seq < 3; seq++) await run.app.publish(stepOn(topic), { seq, padding: '' });
    await waitFor('the member to hold seq 0', () => holding);
    await publishLarge(topic, 3, 33);
    const { partition, start, end } = await partitionOf(topic);
    expect(start).toBeGreaterThan(10);
    release();
    await expect.poll(() => committedIn(topic, group), { timeout: 30_000 }).toBe(end);
    const skipped = run.facts.filter((f) => f.kind === 'records-skipped');
    expect(skipped).toHaveLength(1);
    const gap = skipped[0]!;
    expect(gap).toMatchObject({ group, topic, partition, to: start, count: start - gap.from, resumed: true });
    // every record is either handled, in order, or reported skipped: nothing silently lost
    const accounted = [...run.handled, ...Array.from({ length: gap.count }, (_, i) => gap.from + i)].sort((a, b) => a - b);
    expect(accounted).toEqual(Array.from({ length: end }, (_, i) => i));
    expect(run.handled).toEqual([...run.handled].sort((a, b) => a - b));
    await run.app.close();
  }, 120_000);

  it('a member that died between the client’s reset and its replacement: the next member reports the gap instead of starting at `latest`', async () => {
    const topic = unique('reset-marker');
    const group = unique('worker');
    const publisher = kafkaBroker(options());
    await publisher.publish([{ topic, key: 'k', value: 'warm-up' }]);
    const { partition } = await partitionOf(topic);

    // the first member holds its first batch while retention runs past its fetch position, and dies
    // (no LeaveGroup, no commit) as soon as the gap reaches it: the client has committed its reset marker then
    const sockets = killableSockets();
    const first = buildKafkaBroker({ ...options(), closeTimeoutMs: 1_000 }, { socketFactory: sockets.socketFactory });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let delivered = 0;
    let died = false;
    const dying: DeliverySink = {
      deliver: async () => void (++delivered === 1 && (await released)),
      revoked: async () => {},
      outOfRange: () => {
        died = true;
        sockets.kill();
        return new Promise(() => {});
      },
    };
    const subscription = await first.subscribe({ group, topics: [topic], start: 'latest' }, dying);
    await publisher.publish([0, 1, 2].map((i) => ({ topic, key: 'k', value: `small-${i}` })));
    await waitFor('the first batch held', () => delivered === 1);
    await subscription.commit([{ topic, partition, offset: 4 }]);
    for (let i = 0; i < 30; i++) await publisher.publish([{ topic, key: 'k', value: 'x'.repeat(400_000) }]);
    const { start, end } = await partitionOf(topic);
    expect(start).toBeGreaterThan(4);
    release();
    await waitFor('the first member to meet the gap and die', () => died, 30_000);

    const reported: SkippedRecords[] = [];
    const offsets: number[] = [];
    const next = kafkaBroker(options());
    const sink: DeliverySink = {
      deliver: async (batch) => void offsets.push(...batch.deliveries.map((d) => d.offset)),
      revoked: async () => {},
      outOfRange: async (skipped) => (reported.push(skipped), 'resume'),
    };
    const again = await next.subscribe({ group, topics: [topic], start: 'latest' }, sink);
    try {
      await waitFor('every retained record', () => offsets.length >= end - start, 30_000);
      // where the group was died with the commit the client overwrote: the gap is reported as wide as it can be
      expect(reported).toEqual([{ topic, partition, from: 0, to: start }]);
      expect(offsets).toEqual(Array.from({ length: end - start }, (_, i) => start + i));
    } finally {
      await Promise.all([again.close(), next.close(), subscription.close(), first.close(), publisher.close()]);
    }
  }, 120_000);
});
