/**
 * The hand-written kafkajs + pg pipelines Herald's Kafka + PostgreSQL engine is measured against
 * (`npm run bench`), the same workload as every row: the effect of an event is a dedupe insert
 * plus a per-key counter update in one PostgreSQL transaction, acknowledged (offset committed)
 * after the commit. No outbox, no inbox: the producer sends straight to Kafka.
 * - `ceiling`: what a strong team writes: one `sendBatch` per call (acks=all), and an `eachBatch`
 *   consumer applying a whole fetched batch in one transaction (a multi-row dedupe insert
 *   returning the new ids, one set-based counter upsert), then committing its offsets.
 * - `naive`: the weakest way (the project's earlier baseline): an `eachMessage` consumer with one
 *   transaction per message.
 *
 * It lives in the Kafka package because kafkajs is sealed there. Not a test and not exported.
 */
import { Kafka, Partitioners, logLevel, type EachBatchPayload, type EachMessagePayload } from 'kafkajs';
import pg from 'pg';

/** One event as the producer sends it (the value is its JSON). */
export interface KafkajsItem {
  readonly key: string;
  readonly keyIndex: number;
  readonly seq: number;
  readonly sentAt: number;
  readonly payload: string;
}

export interface KafkajsRowOptions {
  readonly mode: 'ceiling' | 'naive';
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  /** Topics the keys are spread over: key index modulo the count picks one. */
  readonly topics: readonly string[];
  readonly fetchMaxWaitMs: number;
  readonly poolSize: number;
  /** Partitions consumed at once (kafkajs `partitionsConsumedConcurrently`). */
  readonly partitionsConsumedConcurrently: number;
  /** Called with the send time of each event whose effect committed (once per distinct event). */
  readonly onApplied: (sentAt: number) => void;
  /** Bound of the consumer's first group join. Default 30 000. */
  readonly joinTimeoutMs?: number;
}

export interface KafkajsRow {
  /** Sends the events in one call (acks=all); resolves once the cluster acknowledged them. */
  send(items: readonly KafkajsItem[]): Promise<void>;
  close(): Promise<void>;
}

interface Value {
  readonly id: string;
  readonly key: string;
  readonly seq: number;
  readonly sentAt: number;
  readonly payload: string;
}

/** Connects producer, pool and consumer; resolves once the consumer joined its group. */
export async function startKafkajsRow(options: KafkajsRowOptions): Promise<KafkajsRow> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize });
  let closing = false;
  pool.on('error', (error) => {
    if (!closing) process.stderr.write(`kafkajs row: idle PostgreSQL connection failed: ${error.message}\n`);
  });
  const kafka = new Kafka({ clientId: `bench-${options.mode}`, brokers: [...options.brokers], logLevel: logLevel.ERROR });
  // kafkajs' murmur2 partitioner, the Java client's default (and Herald's placement)
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  const consumer = kafka.consumer({
    groupId: `bench-${options.mode}`,
    maxWaitTimeInMs: options.fetchMaxWaitMs,
    // the mock cluster's first join waits 3 s, every rebalance the session timeout minus 1 s
    sessionTimeout: 6_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 10_000,
  });
  const close = async () => {
    closing = true;
    const steps = await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    await pool.end();
    const failed = steps.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    await pool.query('CREATE TABLE IF NOT EXISTS bench_seen (event_id TEXT PRIMARY KEY)');
    await pool.query('CREATE TABLE IF NOT EXISTS bench_counters (k TEXT PRIMARY KEY, n BIGINT NOT NULL)');
    // a metadata request creates the mock's topics (it has no CreateTopics), so the consumer sees them
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [...options.topics] });
    await admin.disconnect();
    await producer.connect();
    await producer.sendBatch({ acks: -1, topicMessages: options.topics.map((topic) => ({ topic, messages: [] })) });
    await consumer.connect();
    await consumer.subscribe({ topics: [...options.topics], fromBeginning: true });
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('kafkajs row: the consumer did not join its group in time')), options.joinTimeoutMs ?? 30_000);
      const off = consumer.on(consumer.events.GROUP_JOIN, () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    if (options.mode === 'ceiling') {
      await consumer.run({ partitionsConsumedConcurrently: options.partitionsConsumedConcurrently, eachBatchAutoResolve: false, eachBatch: (payload) => applyBatch(pool, payload, options.onApplied) });
    } else {
      await consumer.run({ partitionsConsumedConcurrently: options.partitionsConsumedConcurrently, eachMessage: (payload) => applyOne(pool, payload, options.onApplied) });
    }
    await joined;
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }

  const run = `${process.pid}-${Date.now()}`;
  return {
    async send(items) {
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const item of items) {
        const topic = options.topics[item.keyIndex % options.topics.length]!;
        const value: Value = { id: `${run}-${item.seq}`, key: item.key, seq: item.seq, sentAt: item.sentAt, payload: item.payload };
        const messages = byTopic.get(topic) ?? [];
        messages.push({ key: item.key, value: JSON.stringify(value) });
        byTopic.set(topic, messages);
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    },
    close,
  };
}

/** One transaction per fetched batch: dedupe all, count the new ones per key, commit, then commit offsets. */
async function applyBatch(pool: pg.Pool, { batch, resolveOffset, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload, onApplied: (sentAt: number) => void): Promise<void> {
  if (batch.messages.length === 0 || !isRunning() || isStale()) return;
  const values = batch.messages.map((m) => JSON.parse(m.value!.toString()) as Value);
  const client = await pool.connect();
  let fresh: Set<string>;
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ event_id: string }>(
      'INSERT INTO bench_seen (event_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING event_id',
      [values.map((v) => v.id)],
    );
    fresh = new Set(rows.map((r) => r.event_id));
    const perKey = new Map<string, number>();
    for (const v of values) if (fresh.has(v.id)) perKey.set(v.key, (perKey.get(v.key) ?? 0) + 1);
    if (perKey.size > 0) {
      await client.query(
        'INSERT INTO bench_counters (k, n) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (k) DO UPDATE SET n = bench_counters.n + excluded.n',
        [[...perKey.keys()], [...perKey.values()]],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  for (const v of values) if (fresh.has(v.id)) onApplied(v.sentAt);
  resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
  await commitOffsetsIfNecessary();
}

/** The naive way: one transaction per message. */
async function applyOne(pool: pg.Pool, { message }: EachMessagePayload, onApplied: (sentAt: number) => void): Promise<void> {
  const value = JSON.parse(message.value!.toString()) as Value;
  const client = await pool.connect();
  let fresh = false;
  try {
    await client.query('BEGIN');
    fresh = (await client.query('INSERT INTO bench_seen (event_id) VALUES ($1) ON CONFLICT DO NOTHING', [value.id])).rowCount === 1;
    if (fresh) await client.query('INSERT INTO bench_counters (k, n) VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET n = bench_counters.n + 1', [value.key]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  if (fresh) onApplied(value.sentAt);
}
