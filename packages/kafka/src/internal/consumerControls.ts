import type { Consumer } from 'kafkajs';
import type { Logger, TopicPartition } from '@herald/core';

/** The fetch controls the adapter uses on a group member: stop, restart and move one partition's fetching. */
export interface ConsumerControls {
  pause(tps: readonly TopicPartition[]): void;
  resume(tps: readonly TopicPartition[]): void;
  seek(tp: TopicPartition, offset: number): void;
}

/**
 * kafkajs' pause, resume and seek, made safe to call while the consumer is not running. Between a
 * crash and its restart (and between a rejoin's disconnect and its `run`) kafkajs has no consumer
 * group and these calls throw synchronously, from paths (a partition's delivery loop, membership
 * work) where nothing could act on the error. Skipping them loses nothing: the restarted client
 * starts with nothing paused and fetches from the committed offsets, then the adapter restores its
 * state itself (the join re-seeks kept partitions to where this member was and pauses gained ones
 * until placed; the feed pauses a busy or halted partition again on its next fetched batch). Any
 * other refusal is a bug and still throws.
 */
export function consumerControls(consumer: Consumer, logger: Logger): ConsumerControls {
  function attempt(what: string, tps: readonly TopicPartition[], call: () => void): void {
    try {
      call();
    } catch (error) {
      if (!isNotRunning(error)) throw error;
      logger.debug(`kafka: ${what} skipped, the consumer is not running (restarting); its next join restores the fetch state`, {
        partitions: tps.map((tp) => `${tp.topic}/${tp.partition}`),
      });
    }
  }
  return {
    pause: (tps) => attempt('pause', tps, () => consumer.pause(byTopic(tps))),
    resume: (tps) => attempt('resume', tps, () => consumer.resume(byTopic(tps))),
    seek: (tp, offset) => attempt(`seek to offset ${offset}`, [tp], () => consumer.seek({ topic: tp.topic, partition: tp.partition, offset: String(offset) })),
  };
}

/** Groups partitions by topic, the shape kafkajs' pause and resume take. */
function byTopic(tps: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  return [...new Set(tps.map((tp) => tp.topic))].map((topic) => ({ topic, partitions: tps.filter((tp) => tp.topic === topic).map((tp) => tp.partition) }));
}

/** kafkajs 2.2.4's refusal when its consumer group is gone (`consumer.run` not called, or stopped after a crash). */
function isNotRunning(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  return name === 'KafkaJSNonRetriableError' && typeof message === 'string' && message.startsWith('Consumer group was not initialized');
}
