import { createApp, HeraldError, type App, type Broker, type InstrumentationEvent } from '@herald/core';
import { KafkaErrors } from '@herald/kafka';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventWaiter, createRequester } from '../src/index.js';
import { GetProfile, ProfileReturned } from './scenario.js';

// A partition of a reply or wait group that the broker holds before records it cannot read (on
// Kafka, a record batch no codec decompresses: record-batch-undecodable) stops every reply or
// awaited event behind it. The broker only logs it; the group must report it as app consumer
// groups do (a partition-held fact, which @herald/metrics shows as herald_consumer_partition_held
// and deploy/'s HeraldPartitionHeld alert watches), and clear it when the partition is revoked.

/** The memory broker as if partition 0 of every topic a herald.* group reads began with such a batch: each assignment is followed by one hold. */
function holdingReplyPartitions(): Broker {
  const memory = memoryBroker({ partitions: 1 });
  return {
    publish: (records) => memory.publish(records),
    close: () => memory.close(),
    subscribe(options, sink) {
      if (!options.group.startsWith('herald.')) return memory.subscribe(options, sink);
      return memory.subscribe(options, {
        deliver: (batch) => sink.deliver(batch),
        revoked: (tps) => sink.revoked(tps),
        assigned(tps) {
          sink.assigned?.(tps);
          for (const tp of tps) {
            const error = new HeraldError(KafkaErrors.batchUndecodable, `${tp.topic}/${tp.partition}: the record batch at offsets 0..9 cannot be decompressed (codec 7)`);
            sink.held?.({ ...tp, offset: 0, error });
          }
        },
      });
    },
  };
}

let open: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(open.map((app) => app.close()));
  open = [];
});

async function started(use: (app: App<MemoryTx>) => void): Promise<{ app: App<MemoryTx>; facts: InstrumentationEvent[] }> {
  const app = createApp<MemoryTx>({ broker: holdingReplyPartitions(), stores: memoryStores(), relay: false });
  open.push(app);
  const facts: InstrumentationEvent[] = [];
  app.instrumentation.on((fact) => facts.push(fact));
  use(app);
  await app.start();
  await app.ready();
  return { app, facts };
}

const ofGroup = (facts: InstrumentationEvent[], group: string) => facts.filter((f) => 'group' in f && f.group === group);

const groups = [
  { who: "the requester's reply group", group: 'herald.reply.notifier-1', use: (a: App<MemoryTx>) => a.use(createRequester({ app: a, requests: [GetProfile], instanceId: 'notifier-1' })) },
  { who: "the event waiter's wait group", group: 'herald.wait.gateway-1', use: (a: App<MemoryTx>) => a.use(createEventWaiter({ app: a, events: [ProfileReturned], instanceId: 'gateway-1' })) },
];

describe('a held partition of a reply or wait group', () => {
  it.each(groups)('is reported by $who as a partition-held fact, and cleared when the group leaves', async ({ group, use }) => {
    const { app, facts } = await started(use);
    const partitions = [{ topic: ProfileReturned.topic, partition: 0 }];
    expect(ofGroup(facts, group)).toEqual([
      { kind: 'assigned', group, partitions },
      { kind: 'partition-held', group, topic: ProfileReturned.topic, partition: 0, offset: 0, reason: 'record-batch-undecodable' },
    ]);
    await app.close();
    // the revocation is what removes the held gauge's series
    expect(ofGroup(facts, group).at(-1)).toEqual({ kind: 'revoked', group, partitions });
  });
});
