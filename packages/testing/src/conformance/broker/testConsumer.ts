import type { Broker, Delivery, DeliveryBatch, StartPosition, Subscription, TopicPartition } from '@herald/core';

/** A recording consumer used by the broker suite: a DeliverySink plus what it saw. */
export interface TestConsumer {
  /** Every delivery received, in arrival order (including abandoned ones). */
  readonly deliveries: Delivery[];
  /** Partitions of the suite's topic this member owns, per `assigned`/`revoked`. */
  readonly owned: Set<number>;
  readonly revokedCalls: number[][];
  /** Partitions of the suite's topic given by each `assigned` call, in call order (possibly empty). */
  readonly assignedCalls: number[][];
  /** Next offset this consumer committed, per partition. */
  readonly committed: Map<number, number>;
  /** `deliver` calls running at once for one partition, at most (backpressure means 1). */
  readonly maxConcurrentPerPartition: number;
  /** Commit each batch once received (and let through its gate). Default true. */
  autoCommit: boolean;
  /** When set, `deliver` waits for the returned promise before it resolves. */
  gate: ((batch: DeliveryBatch) => Promise<void> | undefined) | undefined;
  /** When set, called as `revoked` starts, with the partitions (the sink finishing its in-flight work there). */
  onRevoke: ((partitions: number[]) => void) | undefined;
  /** `deliver` calls of one partition running now. */
  inFlight(partition: number): number;
  /** Whether a `revoked` call has finished. */
  readonly revokedDone: () => boolean;
  /** Deliveries of one partition. */
  of(partition: number): Delivery[];
  commit(partition: number, offset: number): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumeOptions {
  readonly group: string;
  readonly topic: string;
  readonly start?: StartPosition;
  readonly autoCommit?: boolean;
  /** In `revoked`, commit everything received in the revoked partitions (the sink finishing its work). */
  readonly commitOnRevoke?: boolean;
  /**
   * Called as each `deliver` starts, with this consumer (before `consume` resolves too: a broker
   * may deliver before `subscribe` resolves), e.g. to check what other members run at that moment.
   */
  readonly onDeliver?: (batch: DeliveryBatch, consumer: TestConsumer) => void;
}

/** Subscribes a recording consumer. */
export async function consume(broker: Broker, options: ConsumeOptions): Promise<TestConsumer> {
  const deliveries: Delivery[] = [];
  const owned = new Set<number>();
  const revokedCalls: number[][] = [];
  const assignedCalls: number[][] = [];
  const committed = new Map<number, number>();
  const running = new Map<number, number>();
  let maxConcurrent = 0;
  let revokedFinished = false;
  let resolveReady!: (s: Subscription) => void;
  const ready = new Promise<Subscription>((resolve) => (resolveReady = resolve));

  const consumer: TestConsumer = {
    deliveries,
    owned,
    revokedCalls,
    assignedCalls,
    committed,
    get maxConcurrentPerPartition() {
      return maxConcurrent;
    },
    autoCommit: options.autoCommit ?? true,
    gate: undefined,
    onRevoke: undefined,
    inFlight: (partition) => running.get(partition) ?? 0,
    revokedDone: () => revokedFinished,
    of: (partition) => deliveries.filter((d) => d.partition === partition),
    async commit(partition, offset) {
      const subscription = await ready;
      await subscription.commit([{ topic: options.topic, partition, offset }]);
      committed.set(partition, offset);
    },
    close: () => ready.then((s) => s.close()),
  };

  const subscription = await broker.subscribe(
    { group: options.group, topics: [options.topic], start: options.start ?? 'earliest' },
    {
      async deliver(batch) {
        const now = (running.get(batch.partition) ?? 0) + 1;
        running.set(batch.partition, now);
        maxConcurrent = Math.max(maxConcurrent, now);
        try {
          options.onDeliver?.(batch, consumer);
          deliveries.push(...batch.deliveries);
          await consumer.gate?.(batch);
          const last = batch.deliveries.at(-1);
          if (consumer.autoCommit && last) await consumer.commit(batch.partition, last.offset + 1);
        } finally {
          running.set(batch.partition, (running.get(batch.partition) ?? 1) - 1);
        }
      },
      assigned(partitions: readonly TopicPartition[]) {
        const mine = partitions.filter((tp) => tp.topic === options.topic).map((tp) => tp.partition);
        assignedCalls.push(mine);
        mine.forEach((p) => owned.add(p));
      },
      async revoked(partitions) {
        const mine = partitions.filter((tp) => tp.topic === options.topic).map((tp) => tp.partition);
        mine.forEach((p) => owned.delete(p));
        revokedCalls.push(mine);
        consumer.onRevoke?.(mine);
        await new Promise((resolve) => setTimeout(resolve, 1));
        for (const p of options.commitOnRevoke ? mine : []) {
          const last = consumer.of(p).at(-1);
          if (last) await consumer.commit(p, last.offset + 1);
        }
        revokedFinished = true;
      },
    },
  );
  resolveReady(subscription);
  return consumer;
}

/** The `seq` and `key` the suite encodes in each record's value. */
export function decode(delivery: Delivery): { key: string; seq: number; tag: string } {
  return JSON.parse(delivery.value) as { key: string; seq: number; tag: string };
}

/** How many of the consumer's deliveries lie below the offsets it committed. */
export function committedCount(consumer: TestConsumer): number {
  let total = 0;
  for (const [p, next] of consumer.committed) total += consumer.of(p).filter((d) => d.offset < next).length;
  return total;
}
