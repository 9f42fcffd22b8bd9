import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { Delivery, TopicPartition } from '@herald/core';

/**
 * A kafkajs message as the port's Delivery: numeric offset and time, text key, value and headers.
 * Total: it runs inside the client's fetch loop, where a throw crashes the consumer, which rejoins
 * and fetches the same record again, so one odd record would stop its partition for good. Bytes
 * that are not UTF-8 decode lossily (U+FFFD); a null key or value is the empty string.
 */
export function toDelivery(tp: TopicPartition, message: KafkaMessage): Delivery {
  return {
    topic: tp.topic,
    partition: tp.partition,
    offset: Number(message.offset),
    key: text(message.key) ?? '',
    value: text(message.value) ?? '',
    headers: toHeaders(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/**
 * Header values as text; a header sent several times keeps its last value. A header without a
 * value (null on the wire, which kafkajs decodes as `null`) is left out: the port's headers are text.
 */
function toHeaders(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!headers) return result;
  for (const [name, raw] of Object.entries(headers)) {
    const values: unknown[] = Array.isArray(raw) ? raw : [raw];
    const value = values.map(text).filter((v) => v !== undefined).at(-1);
    if (value !== undefined) result[name] = value;
  }
  return result;
}

/** Bytes (or text) as text; `undefined` for no value (null or undefined). */
function text(raw: unknown): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  return typeof raw === 'string' ? raw : String(raw);
}
