// node --conditions=@herald/source --import tsx packages/kafka/bench/throughput.ts [--records 100000] [--keys 1000] [--value-bytes 200]
//   [--batch 1000] [--topics 4] [--compression none|gzip] [--brokers host:port,...] [--json]
//
// Measures the Kafka adapter: (1) produce throughput, publish() calls of --batch records awaited one
// after another (as an outbox relay does); (2) consume throughput, a new group reading those records
// from the start; (3) produce -> consume end to end, a subscribed group receiving the same workload
// while it is produced (producer and consumer share this one process, as in a service). Without --brokers it starts librdkafka's mock
// cluster (kcat). The mock keeps only ~5 MiB per partition and creates 4 partitions per topic, so
// the workload is spread over --topics topics (a key always goes to the same topic): 100k records
// of 200 bytes need more than the 20 MiB one topic holds.
import { randomBytes } from 'node:crypto';
import { jsonLogger, partitionForKey } from '@herald/core';
import type { Delivery, OutgoingRecord } from '@herald/core';
import { startKafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker } from '../src/index.js';
import type { KafkaBroker } from '../src/index.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const records = Number(option('records', '100000'));
const keyCount = Number(option('keys', '1000'));
const valueBytes = Number(option('value-bytes', '200'));
const batch = Number(option('batch', '1000'));
const topicCount = Number(option('topics', '4'));
const compression = option('compression', 'none') as 'none' | 'gzip';
const json = args.includes('--json');

function workload(run: string): OutgoingRecord[] {
  const filler = randomBytes(valueBytes).toString('base64');
  return Array.from({ length: records }, (_, i) => {
    const key = `customer-${i % keyCount}`;
    const head = `{"run":"${run}","key":"${key}","seq":${Math.floor(i / keyCount)},"data":"`;
    const value = head + filler.slice(0, Math.max(0, valueBytes - head.length - 2)) + '"}';
    return { topic: `bench-${run}-${(i % keyCount) % topicCount}`, key, value };
  });
}

async function publishAll(broker: KafkaBroker, all: readonly OutgoingRecord[]): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < all.length; i += batch) await broker.publish(all.slice(i, i + batch));
  return performance.now() - started;
}

/** Checks the consumed stream: every record once, each key's seqs in order, each on partitionForKey. */
function verify(deliveries: readonly Delivery[], partitions: number): string[] {
  const problems: string[] = [];
  if (deliveries.length !== records) problems.push(`${deliveries.length} deliveries for ${records} records`);
  const lastSeq = new Map<string, number>();
  for (const d of deliveries) {
    const seq = (JSON.parse(d.value) as { seq: number }).seq;
    if ((lastSeq.get(d.key) ?? -1) + 1 !== seq) problems.push(`${d.key}: seq ${seq} after ${lastSeq.get(d.key)}`);
    lastSeq.set(d.key, seq);
    if (d.partition !== partitionForKey(d.key, partitions)) problems.push(`${d.key} on partition ${d.partition}`);
  }
  return problems.slice(0, 5);
}

/** Subscribes a new group to `topics` and resolves with what it received once `records` arrived, and when. */
async function consumeAll(broker: KafkaBroker, topics: string[]): Promise<{ received: Delivery[]; finished: Promise<number>; close: () => Promise<void> }> {
  const received: Delivery[] = [];
  let done!: (at: number) => void;
  const finished = new Promise<number>((resolve) => (done = resolve));
  const subscription = await broker.subscribe({ group: `bench-${Date.now()}-${Math.random()}`, topics }, {
    async deliver(b) {
      received.push(...b.deliveries);
      if (received.length >= records) done(performance.now());
    },
    async revoked() {},
  });
  // commit like the consumer runtime does: every second, the next offset of each partition
  const commits = setInterval(() => {
    const next = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const d of received.slice(-5000)) next.set(`${d.topic}/${d.partition}`, { topic: d.topic, partition: d.partition, offset: d.offset + 1 });
    subscription.commit([...next.values()]).catch(() => {});
  }, 1000);
  return {
    received,
    finished,
    close: async () => {
      clearInterval(commits);
      await subscription.close();
    },
  };
}

async function main(): Promise<void> {
  const mock = args.includes('--brokers') ? undefined : await startKafkaMock({ brokers: 3 });
  const brokers = mock ? [...mock.brokers] : option('brokers', '').split(',');
  const broker = kafkaBroker({ brokers, compression, logger: jsonLogger({ level: 'warn' }), fetch: { maxWaitMs: 20 } });
  try {
    const bytes = workload('x').reduce((sum, r) => sum + r.value.length + r.key.length, 0);
    // (1) produce only
    const produced = workload('p');
    const produceMs = await publishAll(broker, produced);

    // (2) consume only: a new group reads the produced records from the start
    const replay = await consumeAll(broker, [...new Set(produced.map((r) => r.topic))]);
    const replayStarted = performance.now();
    const replayMs = (await replay.finished) - replayStarted;
    await replay.close();
    const problems = verify(replay.received, 4);

    // (3) end to end: the group has joined before the first record is published
    const e2e = workload('e');
    const topics = [...new Set(e2e.map((r) => r.topic))];
    await broker.ensureTopics(topics.map((name) => ({ name, partitions: 4 })));
    const live = await consumeAll(broker, topics);
    const started = performance.now();
    const e2eProduceMs = await publishAll(broker, e2e);
    const e2eMs = (await live.finished) - started;
    await live.close();
    problems.push(...verify(live.received, 4));

    const result = {
      engine: mock ? 'kafka-mock(kcat librdkafka 2.0.2, 3 brokers)' : 'kafka',
      records,
      keys: keyCount,
      valueBytes,
      publishBatch: batch,
      topics: topicCount,
      compression,
      payloadMiB: Math.round((bytes / 1024 / 1024) * 10) / 10,
      produceRecordsPerSec: Math.round(records / (produceMs / 1000)),
      produceMiBPerSec: Math.round((bytes / 1024 / 1024 / (produceMs / 1000)) * 10) / 10,
      consumeRecordsPerSec: Math.round(records / (replayMs / 1000)),
      endToEndRecordsPerSec: Math.round(records / (e2eMs / 1000)),
      endToEndProduceRecordsPerSec: Math.round(records / (e2eProduceMs / 1000)),
      endToEndSeconds: Math.round(e2eMs) / 1000,
      verified: problems.length === 0 ? 'every record once, per-key order held, placement = partitionForKey' : problems,
    };
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else console.table(Object.entries(result).map(([name, value]) => ({ name, value: Array.isArray(value) ? value.join('; ') : value })));
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    await broker.close();
    await mock?.stop();
  }
}

await main();
