import { createApp, defineEvent, jsonLogger, uuidv7 } from '@herald/core';
import { engineFromEnv } from '@herald/engine';
import type { KafkaMock } from '@herald/testing/kafka-mock';
import type { PostgresCluster } from '@herald/testing/postgres-cluster';
import { Type } from '@sinclair/typebox';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { expect } from 'vitest';
import { main } from '../../src/index.js';
import { fakeIo } from '../support.js';

// Records a plain Kafka producer wrote, with U+0000 where PostgreSQL's text refuses it: a Java
// LongSerializer key and a Confluent-framed value (magic byte 0, a 4-byte schema id, an Avro body).
// Their dead letter is recorded, the partition goes on, and the operator's CLI lists and redrives
// the letter with the record's own bytes.

const TOPIC = 'foreign-invoices';
const GROUP = 'billing';
const LONG_42 = Buffer.from('000000000000002a', 'hex');
const LONG_43 = Buffer.from('000000000000002b', 'hex');
const CONFLUENT_AVRO = Buffer.from('000000000102' + '06666f6f', 'hex');
const Invoice = defineEvent({ type: 'Invoice', topic: TOPIC, key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });

function envelope(id: string): string {
  return JSON.stringify({ id: uuidv7(), type: 'Invoice', version: 1, topic: TOPIC, key: id, correlationId: uuidv7(), causationId: null, occurredAt: new Date().toISOString(), data: { id } });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * A plain producer's records on Kafka + PostgreSQL: one letter for the NUL-keyed Confluent record,
 * the partition moving past it (a good event with NUL bytes in its key handled under park-key),
 * and the CLI listing the letter and redriving the record's exact bytes.
 */
export async function foreignLettersSession(mock: KafkaMock, cluster: PostgresCluster): Promise<void> {
  const env = { ...mock!.engineEnv, DATABASE_URL: await cluster!.createDatabase('foreign_letters') };
  const kafka = new Kafka({ brokers: [...mock!.brokers], logLevel: logLevel.NOTHING, clientId: 'foreign' });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  // the poison record, a good event whose key has NUL bytes too, and a sentinel, all on one partition
  const sent: { partition: number; offset: number }[] = [];
  for (const message of [
    { key: LONG_42, value: CONFLUENT_AVRO },
    { key: LONG_43, value: envelope('nul-key') },
    { key: 'sentinel', value: envelope('sentinel') },
  ]) {
    const [meta] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ ...message, partition: sent[0]?.partition ?? 0 }] });
    sent.push({ partition: meta!.partition, offset: Number(meta!.baseOffset) });
  }
  await producer.disconnect();
  const { partition } = sent[0]!;
  const end = sent.at(-1)!.offset + 1;

  const logger = jsonLogger({ level: 'error' });
  const engine = await engineFromEnv(env, { logger, kafka: { clientLogLevel: 'silent', closeTimeoutMs: 3_000 } });
  const handled: string[] = [];
  const app = createApp({ broker: engine.broker, stores: engine.stores, events: [Invoice], logger, closeDeadlineMs: 5_000 });
  // park-key: every delivery asks whether its key is parked, the NUL keys included
  app.on(Invoice, { group: GROUP, deadLetter: 'park-key', retry: { maxAttempts: 1 } }, async (event) => {
    handled.push(event.data.id);
  });
  const admin = kafka.admin();
  await admin.connect();
  let letters;
  try {
    await app.start();
    await until('the group to commit the end of the partition', async () => {
      const [offsets] = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
      return Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1) === end;
    });
    letters = await engine.stores.deadLetters.list();
  } finally {
    await app.close();
    await engine.close();
    await admin.disconnect();
  }
  // keys are handled concurrently: in any order
  expect([...handled].sort()).toEqual(['nul-key', 'sentinel']);
  expect(letters.map((l) => [l.offset, l.reason, l.key, l.envelope, l.status])).toEqual([
    [sent[0]!.offset, 'malformed-envelope', LONG_42.toString('utf8'), CONFLUENT_AVRO.toString('utf8'), 'dead'],
  ]);

  // the operator's view: the CLI on the same environment lists it, then redrives it
  const listed = fakeIo();
  expect(await main(['--json', 'dlq', 'list'], { ...listed.io, env })).toBe(0);
  const page = JSON.parse(listed.stdout()) as { letters: { id: string; key: string; envelope: string }[] };
  expect(page.letters.map((l) => [l.id, l.key, l.envelope])).toEqual([[letters[0]!.id, LONG_42.toString('utf8'), CONFLUENT_AVRO.toString('utf8')]]);
  const redriven = fakeIo();
  expect(await main(['dlq', 'redrive', letters[0]!.id, '--yes'], { ...redriven.io, env }), redriven.stderr()).toBe(0);

  const appended = await readFrom(kafka, partition, end);
  expect([appended.key?.toString('hex'), appended.value?.toString('hex')]).toEqual([LONG_42.toString('hex'), CONFLUENT_AVRO.toString('hex')]);
}

/** The first record of the topic's partition at or after `offset`, read by a plain consumer. */
async function readFrom(kafka: Kafka, partition: number, offset: number): Promise<KafkaMessage> {
  const consumer = kafka.consumer({ groupId: `reader-${uuidv7()}`, maxWaitTimeInMs: 50 });
  let found: KafkaMessage | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition: p, message }) => {
        if (p === partition && Number(message.offset) >= offset) found ??= message;
      },
    });
    await until('the redriven record', async () => found !== undefined, 30_000);
    return found!;
  } finally {
    await consumer.disconnect();
  }
}
