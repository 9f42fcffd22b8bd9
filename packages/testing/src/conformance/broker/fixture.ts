import { canEnsureTopics, partitionForKey, type Broker, type OutgoingRecord } from '@herald/core';
import { uniqueName, waitFor, within } from '../suiteTests.js';
import type { BrokerConformanceOptions, BrokerUnderTest } from './harness.js';
import { consume, type ConsumeOptions, type TestConsumer } from './testConsumer.js';

/** What one broker test works with; everything it opens is closed after the test. */
export interface BrokerFixture {
  readonly harness: BrokerUnderTest;
  /** The current broker (changes after `reopen`). */
  readonly broker: Broker;
  readonly partitions: number;
  readonly waitMs: number;
  /** A new topic with `partitions` partitions. */
  topic(): Promise<string>;
  group(): string;
  consume(options: ConsumeOptions, via?: Broker): Promise<TestConsumer>;
  /** A second member: `newMember()` when the harness has it, else the same broker. */
  member(): Promise<Broker>;
  reopen(): Promise<Broker>;
  /** `count` keys that land in `partition`. */
  keysIn(partition: number, count?: number): string[];
  /** A record whose value encodes key, seq and tag. */
  record(topic: string, key: string, seq: number, tag?: string, timestamp?: number): OutgoingRecord;
  waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void>;
  within<T>(what: string, promise: Promise<T>): Promise<T>;
}

/** Runs `body` against a fresh broker from the harness and tears everything down afterwards. */
export async function withBroker(
  options: Pick<BrokerConformanceOptions, 'name' | 'create' | 'partitions' | 'waitMs'>,
  body: (f: BrokerFixture) => Promise<void>,
): Promise<void> {
  const partitions = options.partitions ?? 4;
  const waitMs = options.waitMs ?? 10_000;
  if (!Number.isInteger(partitions) || partitions < 2) throw new Error(`${options.name}: partitions must be an integer >= 2, got ${partitions}`);
  const harness = await options.create();
  let broker = harness.broker;
  const consumers: TestConsumer[] = [];
  const members: Broker[] = [];
  const keyCache = new Map<number, string[]>();

  const fixture: BrokerFixture = {
    harness,
    get broker() {
      return broker;
    },
    partitions,
    waitMs,
    async topic() {
      const name = uniqueName('conf');
      if (canEnsureTopics(broker)) await broker.ensureTopics([{ name, partitions, replicationFactor: 1 }]);
      return name;
    },
    group: () => uniqueName('group'),
    async consume(consumeOptions, via = broker) {
      const consumer = await consume(via, consumeOptions);
      consumers.push(consumer);
      return consumer;
    },
    async member() {
      if (!harness.newMember) return broker;
      const member = await harness.newMember();
      members.push(member);
      return member;
    },
    async reopen() {
      if (!harness.reopen) throw new Error(`${options.name} declares 'persistence' but create() returned no reopen()`);
      broker = await harness.reopen();
      return broker;
    },
    keysIn(partition, count = 1) {
      const keys = keyCache.get(partition) ?? [];
      for (let i = 0; keys.length < count; i++) {
        const key = `key-${partition}-${i}`;
        if (partitionForKey(key, partitions) === partition && !keys.includes(key)) keys.push(key);
      }
      keyCache.set(partition, keys);
      return keys.slice(0, count);
    },
    record(topic, key, seq, tag = '', timestamp) {
      return { topic, key, value: JSON.stringify({ key, seq, tag }), ...(timestamp === undefined ? {} : { timestamp }) };
    },
    waitFor: (what, condition) => waitFor(what, condition, waitMs),
    within: (what, promise) => within(what, promise, waitMs),
  };

  try {
    await body(fixture);
  } finally {
    // best effort: a failing teardown must not hide the test's own failure
    await Promise.allSettled(consumers.map((c) => within('closing a subscription', c.close(), waitMs)));
    await Promise.allSettled(members.map((m) => within('closing a member', m.close(), waitMs)));
    await within('cleanup', harness.cleanup ? harness.cleanup() : broker.close(), waitMs);
  }
}
