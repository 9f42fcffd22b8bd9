import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { Delivery, TopicPartition } from '@herald/core';

/** A kafkajs message as the port's Delivery: numeric offset and time, text key, value and headers. */
export function toDelivery(tp: TopicPartition, message: KafkaMessage): Delivery {
  return {
    topic: tp.topic,
    partition: tp.partition,
    offset: Number(message.offset),
    key: message.key?.toString('utf8') ?? '',
    value: message.value?.toString('utf8') ?? '',
    headers: toHeaders(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/** Header values as text; a header sent several times keeps its last value. */
function toHeaders(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!headers) return result;
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value !== undefined) result[name] = value.toString();
  }
  return result;
}
