import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, partitionForKey, silentLogger, type App, type Broker } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryBroker, type MemoryTx } from '@herald/testing';
import { eventually } from './support.js';

// A key stuck at the head of a partition (a slow handler, a long retry) holds the partition's
// commit position while its other keys run on. How far they run must be bounded: every record read
// past the head is tracked until the head completes, and all of them are read again by the
// partition's next owner or after a restart.

const Step = defineEvent({ type: 'Step', topic: 'steps', key: (d) => d.key, schema: Type.Object({ key: Type.String(), seq: Type.Integer() }) });
const MAX_IN_FLIGHT = 4;
const BROKER_BATCH = 5;

const apps: App<MemoryTx>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close({ deadlineMs: 1000 })));
});

/** The memory broker, counting the deliveries the group has not accepted yet (its backpressure). */
function watchingDeliveries(broker: MemoryBroker): { broker: Broker; waiting: () => number } {
  let waiting = 0;
  return {
    waiting: () => waiting,
    broker: {
      publish: (records) => broker.publish(records),
      close: () => broker.close(),
      subscribe: (options, sink) =>
        broker.subscribe(options, {
          ...sink,
          revoked: (tps) => sink.revoked(tps),
          async deliver(batch) {
            waiting++;
            try {
              await sink.deliver(batch);
            } finally {
              waiting--;
            }
          },
        }),
    },
  };
}

/** Keys that go to `partition` of two. */
const keysOf = (partition: number, count: number) =>
  Array.from({ length: 200 }, (_, i) => `k${i}`)
    .filter((k) => partitionForKey(k, 2) === partition)
    .slice(0, count);

/** An app of group `worker` whose handler blocks on the first key of partition 0 until `unblock`. */
function stuckApp() {
  const memory = memoryBroker({ partitions: 2, maxBatch: BROKER_BATCH });
  const watched = watchingDeliveries(memory);
  const app = createApp<MemoryTx>({
    broker: watched.broker,
    stores: memoryStores(),
    logger: silentLogger,
    events: [Step],
    relay: false,
    groups: { worker: { concurrency: 8, maxInFlight: MAX_IN_FLIGHT, commitIntervalMs: 5 } },
  });
  apps.push(app);
  const [stuck, ...others] = keysOf(0, 11);
  const elsewhere = keysOf(1, 10);
  let unblock!: () => void;
  const blocked = new Promise<void>((resolve) => (unblock = resolve));
  const handled: Record<number, number> = { 0: 0, 1: 0 };
  app.on(Step, { group: 'worker', timeoutMs: 600_000 }, async (event, ctx) => {
    if (event.data.key === stuck) await blocked;
    handled[ctx.delivery.partition]!++;
  });
  /** The stuck record, then 60 more on partition 0 (each key a few times) and 60 on partition 1; then starts the app. */
  async function start(): Promise<void> {
    await app.publishDirect(Step, { key: stuck!, seq: 0 });
    await app.publishDirect.many(Step, Array.from({ length: 60 }, (_, seq) => ({ key: others[seq % others.length]!, seq: seq + 1 })));
    await app.publishDirect.many(Step, Array.from({ length: 60 }, (_, seq) => ({ key: elsewhere[seq % elsewhere.length]!, seq })));
    await app.start();
    // it pauses its reads, or (unbounded) reads every record past its head
    await eventually(() => (watched.waiting() > 0 && handled[0]! > 0) || handled[0] === 60, 'partition 0 pausing its reads');
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { app, memory, watched, handled, unblock, start };
}

describe('a partition whose head is stuck', () => {
  it('reads at most maxInFlight records past its commit position, and the other partitions read on', async () => {
    const { memory, watched, handled, unblock, start } = stuckApp();
    await start();
    expect(handled[0]).toBeLessThanOrEqual(MAX_IN_FLIGHT + BROKER_BATCH);
    expect(watched.waiting()).toBe(1);
    expect(memory.committed('worker', 'steps', 0)).toBe(0);
    // partition 1 is not held back by partition 0's head
    await eventually(() => handled[1] === 60, 'every record of the other partition handled');

    unblock();
    await eventually(() => handled[0] === 61, 'the rest of partition 0 handled once its head completed');
    await eventually(() => memory.committed('worker', 'steps', 0) === 61, 'partition 0 committed to its end');
  });

  it('stops waiting for its head when the partition is revoked: the paused delivery is given back', async () => {
    const { app, watched, handled, unblock, start } = stuckApp();
    await start();
    expect(watched.waiting()).toBe(1);
    // the head stays stuck past the close deadline: the handler is abandoned, the paused delivery released
    apps.splice(apps.indexOf(app), 1);
    await app.close({ deadlineMs: 50 });
    expect(watched.waiting()).toBe(0);
    expect(handled[0]).toBeLessThanOrEqual(MAX_IN_FLIGHT + BROKER_BATCH);
    unblock();
  });
});
