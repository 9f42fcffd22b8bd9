// The hand-written kafkajs + pg baseline (packages/kafka/bench/baseline.ts) on the same
// infrastructure, sender and clock as Herald's kafka-postgres engine.
import { startKafkajsBaseline } from '../packages/kafka/bench/baseline.js';
import { KAFKA_PG, startKafkaPostgres, type KafkaPostgresInfra } from './engines.js';
import { nowMs, PAYLOAD, sendAtRate, sendFlat, type WorkloadOptions, type WorkloadResult } from './workload.js';

/**
 * Runs the baseline once on a fresh mock Kafka cluster and PostgreSQL database: the same events
 * (same data, keys and topics as Herald's engine), sent the same way, measured from send to the
 * commit of the effect row. `observe` sees the infrastructure when sending starts and when the last effect committed.
 */
export async function runBaseline(options: WorkloadOptions, observe?: (moment: 'started' | 'finished', infra: KafkaPostgresInfra) => void): Promise<WorkloadResult> {
  const infra = await startKafkaPostgres();
  try {
    const baseline = await startKafkajsBaseline({
      brokers: infra.brokers,
      databaseUrl: infra.databaseUrl,
      topics: Array.from({ length: KAFKA_PG.topics }, (_, i) => `bench-${i}`),
      keys: options.keys,
      expected: options.events,
      payload: PAYLOAD,
      fetchMaxWaitMs: KAFKA_PG.fetchMaxWaitMs,
      poolSize: KAFKA_PG.poolSize,
      // every partition at once: with kafkajs' default of 1, partitions take turns
      partitionsConsumedConcurrently: KAFKA_PG.topics * KAFKA_PG.partitionsPerTopic,
      now: nowMs,
    });
    try {
      observe?.('started', infra);
      const started = nowMs();
      if (options.ratePerSec === undefined) await sendFlat(options.events, options.concurrency ?? 512, baseline.send);
      else await sendAtRate(options.events, options.ratePerSec, baseline.send);
      await baseline.finished;
      const elapsedMs = nowMs() - started;
      observe?.('finished', infra);
      return { events: baseline.latenciesMs.length, elapsedMs, latenciesMs: [...baseline.latenciesMs] };
    } finally {
      await baseline.close();
    }
  } finally {
    await infra.stop();
  }
}
