import type { Admin } from 'kafkajs';
import { ErrorCodes, HeraldError } from '@herald/core';
import type { Broker, OffsetReset, Subscription, TopicAdmin, TopicSpec } from '@herald/core';
import { resolveKafkaOptions } from './options.js';
import type { KafkaBrokerOptions } from './options.js';
import { createKafkaClient } from './internal/client.js';
import { toHeraldError } from './internal/errors.js';
import { createOffsetTools } from './internal/offsets.js';
import { createPublisher } from './internal/publisher.js';
import { openSubscription } from './internal/subscription.js';
import { createTopicProvisioner } from './internal/topics.js';

/** The Kafka broker: the Broker port plus topic provisioning and offset reset. */
export type KafkaBroker = Broker & TopicAdmin & OffsetReset;

/**
 * A Broker over Apache Kafka (any Kafka-protocol cluster), with the client sealed inside: nothing
 * of kafkajs appears in this package's types, so the client can be replaced.
 *
 * Contract: `publish` resolves once every record is acknowledged by all in-sync replicas
 * (acks=all); a record goes to `partitionForKey(key, partitions)`, the embedded log's placement;
 * one key's records keep their order within a call and across awaited calls. `subscribe` joins a
 * consumer group whose offsets move only through `Subscription.commit` (at-least-once: after a
 * crash or rebalance the records after the last commit are delivered again); a group with no
 * commit starts at `start` (earliest by default). `ensureTopics` is best-effort (refused creation
 * falls back to the broker's auto-creation, logged); `resetOffsets` needs a group without live
 * members. `close` leaves every group (revoking and committing first), then disconnects;
 * idempotent. Errors are `HeraldError`s (`broker-unavailable`, `event-too-large`, `timeout`,
 * `closed`, `group-active`).
 *
 * @example
 * const broker = kafkaBroker({ brokers: ['kafka-1:9092'], compression: 'gzip' });
 * await broker.publish([{ topic: 'orders', key: 'order-1', value: JSON.stringify(envelope) }]);
 * const sub = await broker.subscribe({ group: 'billing', topics: ['orders'] }, sink);
 */
export function kafkaBroker(options: KafkaBrokerOptions): KafkaBroker {
  const resolved = resolveKafkaOptions(options);
  const logger = resolved.logger;
  const kafka = createKafkaClient(resolved);
  const publisher = createPublisher(kafka, resolved);
  const subscriptions = new Set<Subscription>();
  let adminClient: Promise<Admin> | undefined;
  let provisioned: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  function admin(): Promise<Admin> {
    adminClient ??= (async () => {
      const client = kafka.admin({ retry: { retries: resolved.retries } });
      await client.connect();
      return client;
    })().catch((error: unknown) => {
      adminClient = undefined;
      throw toHeraldError(error, 'connecting the admin client');
    });
    return adminClient;
  }

  const offsets = createOffsetTools({ kafka, admin, options: resolved, logger });
  const topics = createTopicProvisioner({ kafka, admin, logger, requestTimeoutMs: resolved.requestTimeoutMs });

  function ensureOpen(doing: string): void {
    if (closed) throw new HeraldError(ErrorCodes.closed, `kafka: cannot ${doing}, the broker is closed`);
  }

  /** The topics declared in the options, provisioned once before first use (retried after a failure). */
  function provision(): Promise<void> {
    if (resolved.topics.length === 0) return Promise.resolve();
    provisioned ??= topics.ensureTopics(resolved.topics).catch((error: unknown) => {
      provisioned = undefined;
      throw error;
    });
    return provisioned;
  }

  return {
    async publish(records) {
      ensureOpen('publish');
      await provision();
      await publisher.publish(records);
    },
    async subscribe(subscribeOptions, sink) {
      ensureOpen('subscribe');
      if (subscribeOptions.topics.length === 0) throw new HeraldError(ErrorCodes.invalidOptions, 'kafka: subscribe needs at least one topic');
      if (subscribeOptions.maxBatch !== undefined && !(Number.isInteger(subscribeOptions.maxBatch) && subscribeOptions.maxBatch > 0)) {
        throw new HeraldError(ErrorCodes.invalidOptions, `kafka: maxBatch must be an integer > 0, got ${subscribeOptions.maxBatch}`);
      }
      await provision();
      const subscription = await openSubscription({ kafka, admin, offsets, options: resolved, logger }, subscribeOptions, sink);
      subscriptions.add(subscription);
      return {
        commit: (committed) => subscription.commit(committed),
        async close() {
          await subscription.close();
          subscriptions.delete(subscription);
        },
      };
    },
    async ensureTopics(specs: readonly TopicSpec[]) {
      ensureOpen('ensure topics');
      await topics.ensureTopics(specs);
    },
    async resetOffsets(resetOptions) {
      ensureOpen('reset offsets');
      await offsets.resetOffsets(resetOptions);
    },
    close() {
      closed ??= (async () => {
        await Promise.allSettled([...subscriptions].map((s) => s.close()));
        subscriptions.clear();
        await publisher.close().catch((error: unknown) => logger.warn('kafka: disconnecting the producer failed', { error }));
        if (adminClient) {
          await adminClient.then((a) => a.disconnect()).catch(() => {});
        }
      })();
      return closed;
    },
  };
}
