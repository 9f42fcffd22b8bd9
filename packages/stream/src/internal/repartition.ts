import { Type, type Static } from '@sinclair/typebox';
import { defineEvent, type Envelope, type EventDefinition, HeraldError } from '@herald/core';
import { StreamErrors } from '../errors.js';
import type { StreamRecord } from '../types.js';

/** A stream record as it travels through a repartition topic. */
export const RepartitionSchema = Type.Object({
  key: Type.String({ minLength: 1 }),
  timestamp: Type.Integer({ minimum: 0 }),
  value: Type.Unknown(),
});

export type RepartitionData = Static<typeof RepartitionSchema>;

/** The event definition of one repartition topic: its records are keyed by their new key. */
export function repartitionDefinition(topic: string): EventDefinition<typeof RepartitionSchema> {
  return defineEvent({ type: `herald.stream.repartition.${topic}`, topic, key: (data) => data.key, schema: RepartitionSchema });
}

/** The record a repartition topic's event carries back into the stream. */
export function readRepartitioned(event: Envelope): StreamRecord<unknown> {
  const data = event.data as RepartitionData;
  return { key: data.key, value: data.value, timestamp: data.timestamp };
}

/** Refuses a value JSON cannot carry (it would come out of the topic or the store as something else). */
export function assertJson(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new HeraldError(StreamErrors.unserialisableValue, `${what} cannot be written as JSON: ${(error as Error).message}`, { cause: error });
  }
  if (text === undefined) throw new HeraldError(StreamErrors.unserialisableValue, `${what} cannot be written as JSON (it is ${typeof value})`);
  return text;
}
