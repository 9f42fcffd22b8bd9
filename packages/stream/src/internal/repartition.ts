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

/**
 * Refuses a value JSON cannot carry exactly: it would come out of the topic or the store as
 * something else (NaN as null, a Set as {}, a Date as a string, an undefined field gone), and an
 * aggregate's result would then depend on where batches were cut (kept in memory within a batch,
 * read back from JSON across batches).
 */
export function assertJson(value: unknown, what: string): string {
  const problem = notJson(value, '', new Set());
  if (problem !== undefined) throw new HeraldError(StreamErrors.unserialisableValue, `${what} cannot be written as JSON: ${problem}`);
  return JSON.stringify(value);
}

/** Why `value` (at `path` in the value checked) is not exactly a JSON value; undefined when it is. */
function notJson(value: unknown, path: string, ancestors: Set<object>): string | undefined {
  const at = path === '' ? 'the value' : path;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${at} is ${value}`;
  if (typeof value !== 'object') return `${at} is ${typeof value === 'bigint' ? 'a BigInt' : typeof value}`;
  if (ancestors.has(value)) return `${at} refers back to a value that contains it (a cycle)`;
  const array = Array.isArray(value);
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (!array && prototype !== Object.prototype && prototype !== null) return `${at} is a ${value.constructor?.name ?? 'class instance'}, not a plain object or array`;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return `${at} has a toJSON method`;
  ancestors.add(value);
  try {
    if (array) {
      for (let i = 0; i < value.length; i++) {
        const problem = notJson(value[i], `${path}[${i}]`, ancestors);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    for (const [key, field] of Object.entries(value)) {
      const problem = notJson(field, `${path}${path === '' ? '' : '.'}${key}`, ancestors);
      if (problem !== undefined) return problem;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}
