/**
 * The hand-written baseline of Herald's Kafka + PostgreSQL benchmark (`npm run bench`, engine
 * `baseline-kafkajs-pg`): what a team writes without an outbox or an inbox. For each event the
 * producer side does the same business write as Herald's workload, the order row (one autocommitted
 * INSERT), and then sends the event (`producer.send`, acks=all, one message per call, as a request
 * handler would): the classic dual write. A plain kafkajs consumer (`eachMessage`, auto commit)
 * writes the effect row with one `INSERT ... ON CONFLICT (event_id) DO NOTHING` per event through
 * a `pg` pool. So both sides write the same rows; the difference is the reliability machinery.
 *
 * It lives in the Kafka package because kafkajs is sealed there; the benchmark drives it through
 * {@link startKafkajsBaseline} with the same sender and the same clock as Herald's pipeline. Not a
 * test and not part of the package's exports.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import pg from 'pg';

/** Options of {@link startKafkajsBaseline}; the benchmark passes the values Herald's engine uses. */
export interface KafkajsBaselineOptions {
  readonly brokers: readonly string[];
  /** PostgreSQL URL of the database holding the effect table (created if missing). */
  readonly databaseUrl: string;
  /** Topics the keys are spread over: key index modulo the count picks one (Herald's engine does the same). */
  readonly topics: readonly string[];
  /** Distinct keys: event `seq` has key `k${seq % keys}`. */
  readonly keys: number;
  /** Effects to wait for before `finished` resolves. */
  readonly expected: number;
  /** The `payload` field of every event's data. */
  readonly payload: string;
  /** Consumer fetch max wait (kafkajs `maxWaitTimeInMs`). */
  readonly fetchMaxWaitMs: number;
  /** Connections of the consumer's `pg` pool. */
  readonly poolSize: number;
  /** Partitions whose `eachMessage` run at the same time (kafkajs `partitionsConsumedConcurrently`). */
  readonly partitionsConsumedConcurrently: number;
  /** Clock of `sentAt` and of the latencies, shared with the sender. Default `Date.now`. */
  readonly now?: () => number;
  /** Bound of the consumer's first group join. Default 30 000. */
  readonly joinTimeoutMs?: number;
}

/** A running baseline: producer, consumer and pool, connected and joined. */
export interface KafkajsBaseline {
  /** Sends event `seq` (one `producer.send`, acks=all); resolves once the cluster acknowledged it. */
  send(seq: number): Promise<void>;
  /** Resolves once `expected` distinct events had their effect committed. */
  readonly finished: Promise<void>;
  /** Milliseconds from each event's send to its effect's commit, one per distinct event. */
  readonly latenciesMs: readonly number[];
  /** Disconnects the consumer (committing) and the producer, then ends the pool. */
  close(): Promise<void>;
}

interface BaselineEvent {
  readonly id: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly data: { readonly key: string; readonly seq: number; readonly sentAt: number; readonly payload: string };
}

/** Connects producer, pool and consumer, and resolves once the consumer has joined its group. */
export async function startKafkajsBaseline(options: KafkajsBaselineOptions): Promise<KafkajsBaseline> {
  const now = options.now ?? Date.now;
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize });
  let closing = false;
  // node-postgres' advice: an idle client losing its connection emits on the pool, fatal unhandled
  // (pool.end() resolves before its clients' sockets have closed, so the server stopping next is no news)
  pool.on('error', (error) => {
    if (!closing) process.stderr.write(`baseline: idle PostgreSQL connection failed: ${error.message}\n`);
  });
  const kafka = new Kafka({ clientId: 'baseline', brokers: [...options.brokers], logLevel: logLevel.ERROR });
  // kafkajs' murmur2 partitioner, the Java client's default (and Herald's placement)
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  const consumer = kafka.consumer({
    groupId: 'baseline',
    maxWaitTimeInMs: options.fetchMaxWaitMs,
    // the mock cluster's first join waits 3 s, every rebalance the session timeout minus 1 s
    sessionTimeout: 6_000,
    heartbeatInterval: 1_000,
    rebalanceTimeout: 10_000,
  });
  const close = async () => {
    closing = true;
    // each step even when an earlier one failed, so nothing is left connected to servers about to stop
    const steps = await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    await pool.end();
    const failed = steps.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  };

  const latenciesMs: number[] = [];
  const seen = new Set<number>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  try {
    await pool.query('CREATE TABLE IF NOT EXISTS bench_orders (id TEXT PRIMARY KEY, k TEXT NOT NULL, seq INTEGER NOT NULL)');
    await pool.query('CREATE TABLE IF NOT EXISTS bench_effects (event_id TEXT PRIMARY KEY, k TEXT NOT NULL, seq INTEGER NOT NULL)');
    // a metadata request creates the mock's topics (it has no CreateTopics), so the consumer sees them
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [...options.topics] });
    await admin.disconnect();
    await producer.connect();
    // load the producer's metadata of every topic at once: kafkajs loads it lazily, and concurrent
    // first sends to several new topics race (retried, but logged as "topic without metadata")
    await producer.sendBatch({ acks: -1, topicMessages: options.topics.map((topic) => ({ topic, messages: [] })) });
    await consumer.connect();
    await consumer.subscribe({ topics: [...options.topics], fromBeginning: true });
    const joined = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('baseline: the consumer did not join its group in time')), options.joinTimeoutMs ?? 30_000);
      const off = consumer.on(consumer.events.GROUP_JOIN, () => {
        clearTimeout(timer);
        off();
        resolve();
      });
    });
    await consumer.run({
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      async eachMessage({ message }) {
        const event = JSON.parse(message.value!.toString()) as BaselineEvent;
        await pool.query('INSERT INTO bench_effects (event_id, k, seq) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING', [event.id, event.data.key, event.data.seq]);
        if (seen.has(event.data.seq)) return;
        seen.add(event.data.seq);
        latenciesMs.push(now() - event.data.sentAt);
        if (seen.size === options.expected) finish();
      },
    });
    await joined;
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }

  return {
    async send(seq) {
      const keyIndex = seq % options.keys;
      const key = `k${keyIndex}`;
      const sentAt = now();
      const event: BaselineEvent = { id: randomUUID(), type: 'BenchEvent', occurredAt: new Date().toISOString(), data: { key, seq, sentAt, payload: options.payload } };
      await pool.query('INSERT INTO bench_orders (id, k, seq) VALUES ($1, $2, $3)', [`o${seq}`, key, seq]);
      await producer.send({ topic: options.topics[keyIndex % options.topics.length]!, acks: -1, messages: [{ key, value: JSON.stringify(event) }] });
    },
    finished,
    latenciesMs,
    close,
  };
}
