import type { Static, TSchema } from '@sinclair/typebox';
import { encodeEnvelope, type Envelope } from '../model/envelope.js';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { EventDefinition } from '../model/events.js';
import { uuidv7 } from '../model/uuid.js';
import type { Clock } from '../ports/clock.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { OutboxRecord, OutboxStore } from '../ports/stores/outbox.js';
import type { Publish, PublishManyOptions, PublishOptions } from './handler.js';

/** Headers carried from a cause to its effects: W3C trace context. */
const PROPAGATED_HEADERS = ['traceparent', 'tracestate'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PublisherDeps<Tx> {
  readonly outbox: OutboxStore<Tx>;
  readonly clock: Clock;
  readonly maxEventBytes: number;
  readonly instrumentation: Instrumentation;
}

/** A `publish` bound to one transaction, plus what to report once that transaction commits. */
export interface BoundPublisher {
  readonly publish: Publish;
  /** Emits `published` instrumentation for what was appended; call after commit. */
  committed(): void;
}

/**
 * Builds the envelope for `data` (validating it: an invalid event throws at publish), refuses it
 * when its wire form exceeds the size limit, and appends it to the outbox in `tx`. Correlation and
 * causation ids and trace headers default from `cause`, the event being handled, if any.
 */
export function bindPublisher<Tx>(deps: PublisherDeps<Tx>, tx: Tx, cause?: Envelope): BoundPublisher {
  const appended: OutboxRecord[] = [];
  const toRecord = (envelope: Envelope): OutboxRecord => ({
    id: envelope.id,
    topic: envelope.topic,
    key: envelope.key,
    type: envelope.type,
    correlationId: envelope.correlationId,
    value: encodeEnvelope(envelope, deps.maxEventBytes),
    headers: envelope.headers,
    createdAt: deps.clock.now(),
  });
  const publish = (async <S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options: PublishOptions = {}) => {
    const envelope = buildEnvelope(deps.clock, definition, data, options, options.cause ?? cause);
    const record = toRecord(envelope);
    await deps.outbox.append(tx, [record]);
    appended.push(record);
    return envelope;
  }) as Publish;
  publish.many = async <S extends TSchema>(definition: EventDefinition<S>, items: readonly Static<S>[], options: PublishManyOptions = {}) => {
    if (!Array.isArray(items)) throw new HeraldError(CoreErrors.invalidOptions, 'publish.many: items must be an array');
    const envelopes = items.map((data) => buildEnvelope(deps.clock, definition, data, options, options.cause ?? cause));
    const records = envelopes.map(toRecord);
    if (records.length > 0) await deps.outbox.append(tx, records);
    for (const record of records) appended.push(record);
    return envelopes;
  };
  return {
    publish,
    committed() {
      reportPublished(deps.instrumentation, appended);
    },
  };
}

/** Emits the `published` facts of events that reached the outbox or the log: one per topic and type, not per event. */
export function reportPublished(instrumentation: Instrumentation, events: readonly { readonly topic: string; readonly type: string }[]): void {
  if (!instrumentation.active || events.length === 0) return;
  const counts = new Map<string, { topic: string; eventType: string; count: number }>();
  for (const event of events) {
    const id = `${event.topic}\u0000${event.type}`;
    const entry = counts.get(id);
    if (entry) entry.count++;
    else counts.set(id, { topic: event.topic, eventType: event.type, count: 1 });
  }
  for (const entry of counts.values()) instrumentation.emit({ kind: 'published', ...entry });
}

/**
 * Builds and validates the envelope of one event: the definition's schema checks `data`, the key
 * comes from the definition unless given, correlation and causation default from `cause`.
 */
export function buildEnvelope<S extends TSchema>(
  clock: Clock,
  definition: EventDefinition<S>,
  data: Static<S>,
  options: PublishOptions,
  cause: Envelope | undefined,
): Envelope<Static<S>> {
  const valid = definition.parse(data);
  const now = clock.now();
  if (options.id !== undefined && !UUID.test(options.id)) {
    throw new HeraldError(CoreErrors.invalidOptions, `publish: id "${options.id}" is not a UUID`);
  }
  const id = options.id ?? uuidv7(now);
  const key = options.key ?? definition.key(valid);
  if (typeof key !== 'string' || key.length === 0) {
    throw new HeraldError(CoreErrors.invalidOptions, `publish: ${definition.type} produced an empty partition key`);
  }
  const headers: Record<string, string> = {};
  if (cause) for (const name of PROPAGATED_HEADERS) if (cause.headers[name] !== undefined) headers[name] = cause.headers[name]!;
  if (options.headers) Object.assign(headers, options.headers);
  return {
    id,
    type: definition.type,
    version: definition.version,
    topic: definition.topic,
    key,
    correlationId: options.correlationId ?? cause?.correlationId ?? id,
    causationId: options.causationId !== undefined ? options.causationId : (cause?.id ?? null),
    occurredAt: (options.occurredAt ?? new Date(now)).toISOString(),
    headers,
    data: valid,
  };
}

/**
 * `publish` with every call's options passed through `adjust` first, for single events and
 * `many` alike: how a layer (a gateway route, a policy) adds defaults such as a correlation id or
 * trace headers to what it hands on. `adjust` sees the caller's options (`{}` when none).
 *
 * @example
 * const correlated = adjustPublish(publish, (options) => ({ correlationId: 'c-1', ...options }));
 */
export function adjustPublish(publish: Publish, adjust: (options: PublishManyOptions) => PublishManyOptions): Publish {
  const adjusted = ((definition, data, options) => {
    const { id, key, ...rest } = options ?? {};
    return publish(definition, data, { ...adjust(rest), ...(id === undefined ? {} : { id }), ...(key === undefined ? {} : { key }) });
  }) as Publish;
  adjusted.many = (definition, items, options) => publish.many(definition, items, adjust(options ?? {}));
  return adjusted;
}
