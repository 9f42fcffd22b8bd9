import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import type { Logger, TopicSpec } from '@herald/core';
import { toHeraldError } from './errors.js';

export interface TopicProvisionerDeps {
  readonly kafka: Kafka;
  readonly admin: () => Promise<Admin>;
  readonly logger: Logger;
  readonly requestTimeoutMs: number;
}

export interface TopicProvisioner {
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Partition counts declared by `ensureTopics` that the broker's metadata confirmed. */
  readonly confirmed: ReadonlyMap<string, number>;
}

/**
 * Creates declared topics with their partitions, replication factor and retention. Best-effort:
 * a broker that refuses (the mock cluster has no controller, a managed cluster may forbid admin
 * requests) is logged and left to auto-create the topics with its defaults. Either way the topics
 * are made to exist and their real partition count is read back; a declared count is remembered
 * only when the metadata confirms it, and a mismatch is logged because keys are spread over the
 * real count.
 */
export function createTopicProvisioner(deps: TopicProvisionerDeps): TopicProvisioner {
  const confirmed = new Map<string, number>();
  const { logger } = deps;

  async function tryCreate(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
    try {
      const cluster = await admin.describeCluster();
      if (!cluster.brokers.some((b) => b.nodeId === cluster.controller)) {
        throw new Error(`the cluster reports controller ${String(cluster.controller)}, which is none of its brokers`);
      }
      await admin.createTopics({ topics: specs.map(toTopicConfig), waitForLeaders: true, timeout: deps.requestTimeoutMs });
    } catch (error) {
      logger.warn('kafka: topic creation refused; relying on auto-creation with the broker defaults', { topics: specs.map((s) => s.name), error });
    }
  }

  /** Metadata requests from a consumer may auto-create topics (the admin client's never do). */
  async function autoCreate(names: readonly string[]): Promise<void> {
    const consumer = deps.kafka.consumer({ groupId: 'herald-topic-provisioner', allowAutoTopicCreation: true });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...names] });
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  }

  return {
    confirmed,
    async ensureTopics(specs) {
      if (specs.length === 0) return;
      const names = specs.map((s) => s.name);
      try {
        const admin = await deps.admin();
        await tryCreate(admin, specs);
        await autoCreate(names);
        const metadata = await admin.fetchTopicMetadata({ topics: names });
        for (const spec of specs) {
          const actual = metadata.topics.find((t) => t.name === spec.name)?.partitions.length;
          if (actual === spec.partitions) confirmed.set(spec.name, actual);
          else logger.warn('kafka: topic does not have its declared partition count; keys are spread over the actual count', { topic: spec.name, declared: spec.partitions, actual });
        }
      } catch (error) {
        throw toHeraldError(error, `provisioning topics ${names.join(', ')}`);
      }
    },
  };
}

function toTopicConfig(spec: TopicSpec): ITopicConfig {
  const configEntries: { name: string; value: string }[] = [];
  if (spec.retentionMs !== undefined) configEntries.push({ name: 'retention.ms', value: String(spec.retentionMs) });
  if (spec.retentionBytes !== undefined) configEntries.push({ name: 'retention.bytes', value: String(spec.retentionBytes) });
  return { topic: spec.name, numPartitions: spec.partitions, replicationFactor: spec.replicationFactor ?? -1, configEntries };
}
