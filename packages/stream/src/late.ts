import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { defineEvent, type EventDefinition } from '@herald/core';

/** The schema of a {@link LateRecord} whose value has schema `V`. */
export function lateRecordSchema<V extends TSchema>(value: V) {
  return Type.Object({
    aggregation: Type.String(),
    key: Type.String(),
    value,
    timestamp: Type.Integer({ minimum: 0 }),
    streamTime: Type.Integer({ minimum: 0 }),
    partition: Type.Integer({ minimum: 0 }),
    windows: Type.Array(Type.Object({ start: Type.Integer(), end: Type.Integer() })),
  });
}

type LateSchema<V extends TSchema> = ReturnType<typeof lateRecordSchema<V>>;

/**
 * Defines the event a side output publishes late records as: its data is the `LateRecord` itself
 * (aggregation, key, value, event time, stream time, partition, missed windows), keyed by the
 * record's key. Pass it as `late: { to: definition }`.
 *
 * @example
 * const LateViews = defineLateEvent({ type: 'PageViewLate', topic: 'page-views-late', value: PageViewed.schema });
 * windowed.count('views-1m', { late: { to: LateViews } });
 */
export function defineLateEvent<V extends TSchema>(options: { readonly type: string; readonly topic: string; readonly value: V; readonly version?: number }): EventDefinition<LateSchema<V>> {
  const schema: TObject = lateRecordSchema(options.value);
  return defineEvent({
    type: options.type,
    topic: options.topic,
    version: options.version,
    schema: schema as LateSchema<V>,
    key: (data: Static<LateSchema<V>>) => (data as unknown as { readonly key: string }).key,
  });
}
