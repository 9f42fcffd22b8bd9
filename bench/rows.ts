// Every row of `npm run bench`, by name. Herald's rows are compared with the ceiling row of the
// same infrastructure (`ratioToCeiling`).
import { ceilingSqliteRow } from './ceilingSqlite.js';
import { engines, KAFKA_PG, startKafkaPostgres } from './engines.js';
import { heraldRow } from './herald.js';
import { benchMetrics } from './metrics.js';
import { benchTracing } from './tracing.js';
import { Applied, type BenchRow, type RowFactory } from './workload.js';

export const ROWS: Readonly<Record<string, RowFactory>> = {
  'ceiling-sqlite': ceilingSqliteRow,
  embedded: async () => heraldRow(await engines.embedded!(true), true),
  'embedded-default': async () => heraldRow(await engines.embedded!(false), false),
  // what @herald/metrics costs: the tuned embedded row with metrics counting every fact and scraped every second
  'embedded+metrics': async () => heraldRow({ ...(await engines.embedded!(true)), observe: benchMetrics }, true),
  // what @herald/tracing costs: the tuned embedded row with every event traced (create, send, process)
  'embedded+tracing': async () => heraldRow(benchTracing(await engines.embedded!(true)), true),
  // the same with one trace in ten sampled (parent-based), as a service under load is usually deployed
  'embedded+tracing-10%': async () => heraldRow(benchTracing(await engines.embedded!(true), { sampleRatio: 0.1 }), true),
  // no trace sampled: what tracing costs before any span, the sampler's decision for each root and
  // the unsampled trace context every event then carries (what parent-based sampling needs downstream)
  'embedded+tracing-0%': async () => heraldRow(benchTracing(await engines.embedded!(true), { sampleRatio: 0 }), true),
  'ceiling-kafkajs-pg': () => kafkajsRow('ceiling'),
  'baseline-kafkajs-pg': () => kafkajsRow('naive'),
  'kafka-postgres': async () => heraldRow(await engines['kafka-postgres']!(true), true),
  'kafka-postgres-default': async () => heraldRow(await engines['kafka-postgres']!(false), false),
};

/** Which ceiling each Herald row is measured against. */
export const CEILING_OF: Readonly<Record<string, string>> = {
  embedded: 'ceiling-sqlite',
  'embedded+metrics': 'ceiling-sqlite',
  'embedded+tracing': 'ceiling-sqlite',
  'embedded+tracing-10%': 'ceiling-sqlite',
  'embedded+tracing-0%': 'ceiling-sqlite',
  'embedded-default': 'ceiling-sqlite',
  'kafka-postgres': 'ceiling-kafkajs-pg',
  'kafka-postgres-default': 'ceiling-kafkajs-pg',
};

/** The rows on Kafka + PostgreSQL: Herald's, its ceiling and the naive baseline. */
const KAFKA_PG_ROWS = new Set(['ceiling-kafkajs-pg', 'baseline-kafkajs-pg', 'kafka-postgres', 'kafka-postgres-default']);

/**
 * Node's flags for a row's process, per infrastructure, so a Herald row and its ceiling always run
 * with the same ones. On Kafka + PostgreSQL, 64 MiB semi-spaces (Node's young generation; 16 by
 * default): the Node process holds each fetched batch for tens of milliseconds, and with room for
 * it those objects die young instead of being copied and promoted (`kafka-postgres` ~7% faster,
 * 4 interleaved pairs). On the embedded engine, Node's defaults: with 64 MiB the young generation's
 * pages are given back and touched again cycle after cycle, each first touch a page fault (~10 µs
 * on this VM), and `embedded` ran ~10% slower (8 interleaved pairs) with a p99 ~30 ms higher;
 * `ceiling-sqlite` runs the same either way.
 */
export function nodeFlagsOf(row: string): string[] {
  return KAFKA_PG_ROWS.has(row) ? ['--max-semi-space-size=64'] : [];
}

/** The hand-written kafkajs + pg rows, on the same infrastructure and settings as Herald's Kafka + PostgreSQL rows. */
async function kafkajsRow(mode: 'ceiling' | 'naive'): Promise<BenchRow> {
  const { startKafkajsRow } = await import('../packages/kafka/bench/kafkajsRows.js');
  const infra = await startKafkaPostgres();
  const applied = new Applied();
  try {
    const row = await startKafkajsRow({
      mode,
      brokers: infra.brokers,
      databaseUrl: infra.databaseUrl,
      topics: Array.from({ length: KAFKA_PG.topics }, (_, i) => `bench-${i}`),
      fetchMaxWaitMs: KAFKA_PG.fetchMaxWaitMs,
      poolSize: KAFKA_PG.poolSize,
      // every partition at once: with kafkajs' default of 1, partitions take turns
      partitionsConsumedConcurrently: KAFKA_PG.topics * KAFKA_PG.partitionsPerTopic,
      onApplied: (sentAt) => applied.record(sentAt),
    });
    return {
      applied,
      send: (items) => row.send(items),
      cpuSeconds: () => infra.cpuSeconds(),
      async close() {
        await row.close();
        await infra.stop();
      },
    };
  } catch (error) {
    await infra.stop();
    throw error;
  }
}
