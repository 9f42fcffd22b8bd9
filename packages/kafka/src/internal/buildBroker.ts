import type { Admin } from 'kafkajs';
import { CoreErrors, HeraldError } from '@herald/core';
import type { Subscription, TopicSpec } from '@herald/core';
import type { KafkaBroker } from '../kafkaBroker.js';
import { resolveKafkaOptions } from '../options.js';
import type { KafkaBrokerOptions } from '../options.js';
import { createKafkaClient } from './client.js';
import type { ClientHooks } from './client.js';
import { withTimeout } from './deadline.js';
import { createJoinGates, joinHoldMs } from './joinGate.js';
import { toHeraldError } from './errors.js';
import { createOffsetTools } from './offsets.js';
import { createPublisher } from './publisher.js';
import { createRecordReader } from './recordReader.js';
import { openSubscription } from './subscription.js';
import { describeGroup } from './inspect/describeGroup.js';
import { describeTopics } from './inspect/describeTopics.js';
import type { InspectDeps, LocalGroups } from './inspect/deps.js';
import { listGroups } from './inspect/listGroups.js';
import type { BrokerSupport } from './support.js';
import { createTopicProvisioner } from './topics.js';

/** `kafkaBroker` with hooks into the client (tests use them to cut a member's connections, as a crash would). */
export function buildKafkaBroker(options: KafkaBrokerOptions, hooks: ClientHooks = {}): KafkaBroker {
  const resolved = resolveKafkaOptions(options);
  const logger = resolved.logger;
  // members let go of their partitions before they join a rebalance (see createJoinGates)
  const joinGates = createJoinGates({ inner: hooks.socketFactory, holdMs: joinHoldMs(resolved.group), logger });
  const kafka = createKafkaClient(resolved, { ...hooks, socketFactory: joinGates.socketFactory });
  const publisher = createPublisher(kafka, resolved);
  /** Open subscriptions, with their group. */
  const subscriptions = new Map<Subscription, string>();
  /** Groups this instance has subscribed, reset or described (see LocalGroups). */
  const knownGroups = new Set<string>();
  let adminClient: Promise<Admin> | undefined;
  /** `close` has disconnected (or is disconnecting) the admin client: none is made again. */
  let adminGone = false;
  let provisioned: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  function admin(): Promise<Admin> {
    // work that outlives `close` (a subscribe still joining, a read past its check) would otherwise
    // connect an admin client that nobody disconnects, and the process would never exit
    if (adminGone || (closed && !adminClient)) return Promise.reject(new HeraldError(CoreErrors.closed, 'kafka: no admin client, the broker is closed'));
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

  const support: BrokerSupport = {};
  const offsets = createOffsetTools({ kafka, admin, options: resolved, logger, support });
  const topics = createTopicProvisioner({ kafka, admin, logger, requestTimeoutMs: resolved.requestTimeoutMs });
  const local: LocalGroups = {
    known: () => [...knownGroups],
    members: (group) => [...subscriptions.values()].filter((g) => g === group).length,
  };
  const inspect: InspectDeps = { admin, support, logger, local };
  const reader = createRecordReader({ kafka, admin, options: resolved, logger });

  function ensureOpen(doing: string): void {
    if (closed) throw new HeraldError(CoreErrors.closed, `kafka: cannot ${doing}, the broker is closed`);
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
      ensureOpen('publish'); // closed while provisioning: the producer is gone, connecting it again would leak it
      await publisher.publish(records);
    },
    async subscribe(subscribeOptions, sink) {
      ensureOpen('subscribe');
      if (subscribeOptions.topics.length === 0) throw new HeraldError(CoreErrors.invalidOptions, 'kafka: subscribe needs at least one topic');
      if (subscribeOptions.maxBatch !== undefined && !(Number.isInteger(subscribeOptions.maxBatch) && subscribeOptions.maxBatch > 0)) {
        throw new HeraldError(CoreErrors.invalidOptions, `kafka: maxBatch must be an integer > 0, got ${subscribeOptions.maxBatch}`);
      }
      await provision();
      ensureOpen('subscribe'); // closed while provisioning: no consumer after close
      knownGroups.add(subscribeOptions.group);
      const subscription = await openSubscription({ kafka, admin, offsets, options: resolved, logger, joinGates }, subscribeOptions, sink);
      if (closed) {
        // close() ran while this member was joining: it did not see it, so it leaves now
        await subscription.close();
        ensureOpen('subscribe');
      }
      subscriptions.set(subscription, subscribeOptions.group);
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
      knownGroups.add(resetOptions.group);
      await offsets.resetOffsets(resetOptions);
    },
    async describeTopics(names) {
      ensureOpen('describe topics');
      return describeTopics(inspect, names);
    },
    async listGroups() {
      ensureOpen('list groups');
      return listGroups(inspect);
    },
    async describeGroup(group, describeOptions) {
      ensureOpen('describe a group');
      const description = await describeGroup(inspect, group, describeOptions);
      knownGroups.add(group);
      return description;
    },
    async read(range) {
      ensureOpen('read');
      return reader.read(range);
    },
    close() {
      closed ??= (async () => {
        await Promise.allSettled([...subscriptions.keys()].map((s) => s.close()));
        subscriptions.clear();
        await reader.close();
        const { closeTimeoutMs } = resolved;
        await withTimeout(publisher.close(), closeTimeoutMs, 'disconnecting the producer').catch((error: unknown) => logger.warn('kafka: disconnecting the producer failed', { error }));
        adminGone = true;
        if (adminClient) {
          // past the bound the disconnect still runs once a connect under way ends
          await withTimeout(adminClient.then((a) => a.disconnect()), closeTimeoutMs, 'disconnecting the admin client').catch((error: unknown) =>
            logger.warn('kafka: disconnecting the admin client failed', { error }),
          );
        }
      })();
      return closed;
    },
  };
}
