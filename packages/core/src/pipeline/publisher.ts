import type { Static, TSchema } from '@sinclair/typebox';
import { encodeEnvelopeValue, envelopeProblem, headersProblem, unstorableDataError, type Envelope } from '../model/envelope.js';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { assertEventDefinition, type EventDefinition } from '../model/events.js';
import { uuidv7 } from '../model/uuid.js';
import type { Clock } from '../ports/clock.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { OutboxRecord, OutboxStore } from '../ports/stores/outbox.js';
import type { TimerStore } from '../ports/stores/timers.js';
import type { Publish, PublishManyOptions, PublishOptions, ScheduleOptions } from './handler.js';

/** Headers carried from a cause to its effects: W3C trace context. */
const PROPAGATED_HEADERS = ['traceparent', 'tracestate'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PublisherDeps<Tx> {
  readonly outbox: OutboxStore<Tx>;
  readonly clock: Clock;
  readonly maxEventBytes: number;
  readonly instrumentation: Instrumentation;
  /** Where `publish.schedule` keeps timers; without it, scheduling throws `timers-unavailable`. */
  readonly timers?: TimerStore<Tx>;
  /**
   * Told, once the transaction committed, the earliest due time it scheduled (the app wakes its
   * timer scheduler: woken before the commit, its round could not see the timer yet).
   */
  readonly onScheduled?: (dueAt: number) => void;
}

/** Longest timer id accepted. */
const MAX_TIMER_ID = 500;
/** The largest distance from the epoch a `Date` holds, in ms (ECMA-262's time value range). */
const MAX_DATE_MS = 8.64e15;

/** A `publish` bound to one transaction, plus what to report once that transaction commits. */
export interface BoundPublisher {
  readonly publish: Publish;
  /** Emits `published` instrumentation for what was appended, and tells `onScheduled` what was scheduled; call after commit. */
  committed(): void;
}

/**
 * Builds the envelope for `data` (validating it: an invalid event throws at publish), refuses it
 * when its wire form exceeds the size limit, and appends it to the outbox in `tx`. Correlation and
 * causation ids and trace headers default from `cause`, the event being handled, if any.
 */
export function bindPublisher<Tx>(deps: PublisherDeps<Tx>, tx: Tx, cause?: Envelope): BoundPublisher {
  const appended: OutboxRecord[] = [];
  /** The earliest due time scheduled through this publisher, if any. */
  let earliestDue: number | undefined;
  const toRecord = (envelope: Envelope): OutboxRecord => ({
    id: envelope.id,
    topic: envelope.topic,
    key: envelope.key,
    type: envelope.type,
    correlationId: envelope.correlationId,
    value: publishedValue(envelope, deps.maxEventBytes),
    headers: envelope.headers,
    createdAt: deps.clock.now(),
  });
  const publish = (async <S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options: PublishOptions = {}) => {
    assertEventDefinition(definition, 'publish: definition');
    const envelope = buildEnvelope(deps.clock, definition, data, options, options.cause ?? cause);
    const record = toRecord(envelope);
    await deps.outbox.append(tx, [record]);
    appended.push(record);
    return envelope;
  }) as Publish;
  publish.many = async <S extends TSchema>(definition: EventDefinition<S>, items: readonly Static<S>[], options: PublishManyOptions = {}) => {
    assertEventDefinition(definition, 'publish.many: definition');
    if (!Array.isArray(items)) throw new HeraldError(CoreErrors.invalidOptions, 'publish.many: items must be an array');
    // one id for every item would have consumers' inboxes keep the first and drop the rest as duplicates
    if ((options as PublishOptions).id !== undefined) throw new HeraldError(CoreErrors.invalidOptions, 'publish.many: id cannot be given for several events');
    // one frozen headers object for the whole call: its records are stored and relayed with one serialisation
    const from = options.cause ?? cause;
    const headers = Object.freeze(headersOf(options, from));
    const envelopes = items.map((data) => buildEnvelope(deps.clock, definition, data, options, from, headers));
    const records = envelopes.map(toRecord);
    if (records.length > 0) await deps.outbox.append(tx, records);
    for (const record of records) appended.push(record);
    return envelopes;
  };
  publish.schedule = async <S extends TSchema>(definition: EventDefinition<S>, data: Static<S>, options: ScheduleOptions) => {
    assertEventDefinition(definition, 'publish.schedule: definition');
    const timers = timerStore(deps);
    const dueAt = dueTime(deps.clock, options);
    const timerId = options?.timerId;
    if (timerId !== undefined && !(typeof timerId === 'string' && timerId.length > 0 && timerId.length <= MAX_TIMER_ID)) {
      throw new HeraldError(CoreErrors.invalidOptions, `publish.schedule: timerId must be a string of 1 to ${MAX_TIMER_ID} characters`);
    }
    const envelope = buildEnvelope(deps.clock, definition, data, { ...options, occurredAt: options.occurredAt ?? new Date(dueAt) }, options.cause ?? cause);
    const scheduled = { timerId: timerId ?? envelope.id, dueAt, envelope };
    await timers.schedule(tx, [{ timerId: scheduled.timerId, dueAt, record: toRecord(envelope) }]);
    earliestDue = earliestDue === undefined ? dueAt : Math.min(earliestDue, dueAt);
    return scheduled;
  };
  publish.cancelTimer = async (timerId: string) => {
    const timers = timerStore(deps);
    if (typeof timerId !== 'string' || timerId.length === 0) throw new HeraldError(CoreErrors.invalidOptions, 'publish.cancelTimer: timerId must be a non-empty string');
    return timers.cancel(tx, timerId);
  };
  return {
    publish,
    committed() {
      reportPublished(deps.instrumentation, appended);
      if (earliestDue !== undefined) deps.onScheduled?.(earliestDue);
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
 * A `Publish` that builds its publisher only when first used (most handlers of many groups publish
 * nothing): every call goes to `bound()`.
 */
export function lazyPublish(bound: () => Publish): Publish {
  const publish = ((definition, data, options) => bound()(definition, data, options)) as Publish;
  publish.many = (definition, items, options) => bound().many(definition, items, options);
  publish.schedule = (definition, data, options) => bound().schedule(definition, data, options);
  publish.cancelTimer = (timerId) => bound().cancelTimer(timerId);
  return publish;
}

function timerStore<Tx>(deps: PublisherDeps<Tx>): TimerStore<Tx> {
  if (!deps.timers) throw new HeraldError(CoreErrors.timersUnavailable, "publish.schedule / cancelTimer: the app's stores have no timer store");
  return deps.timers;
}

/**
 * The due time of a schedule: `at`, or `afterMs` from now; exactly one of them, finite, and within
 * the range of a `Date` (it becomes the event's `occurredAt`).
 */
function dueTime(clock: Clock, options: ScheduleOptions): number {
  const { at, afterMs } = (options ?? {}) as { at?: Date | number; afterMs?: number };
  if ((at === undefined) === (afterMs === undefined)) throw new HeraldError(CoreErrors.invalidOptions, 'publish.schedule: give exactly one of at and afterMs');
  if (afterMs !== undefined) {
    const due = typeof afterMs === 'number' && afterMs >= 0 ? clock.now() + Math.ceil(afterMs) : Number.NaN;
    if (!(Math.abs(due) <= MAX_DATE_MS)) {
      throw new HeraldError(CoreErrors.invalidOptions, `publish.schedule: afterMs must be a number >= 0 that ends within a Date's range, got ${String(afterMs)}`);
    }
    return due;
  }
  const time = at instanceof Date ? at.getTime() : at;
  if (!(typeof time === 'number' && Math.abs(time) <= MAX_DATE_MS)) {
    throw new HeraldError(CoreErrors.invalidOptions, `publish.schedule: at must be a valid Date or a time in ms within a Date's range, got ${String(at)}`);
  }
  return Math.ceil(time);
}

/**
 * Builds and validates the envelope of one event: the definition's schema checks `data`, the key
 * comes from the definition unless given, correlation and causation default from `cause`. The
 * envelope passes the decoder's own checks (`envelopeProblem`), so what is refused is refused here,
 * with `invalid-options`, before anything is committed, not by every consumer later.
 */
export function buildEnvelope<S extends TSchema>(
  clock: Clock,
  definition: EventDefinition<S>,
  data: Static<S>,
  options: PublishOptions,
  cause: Envelope | undefined,
  headers: Readonly<Record<string, string>> = headersOf(options, cause),
): Envelope<Static<S>> {
  const valid = definition.parse(data);
  const now = clock.now();
  if (options.id !== undefined && !(typeof options.id === 'string' && UUID.test(options.id))) {
    throw new HeraldError(CoreErrors.invalidOptions, `publish: id "${String(options.id)}" is not a UUID`);
  }
  const id = options.id ?? uuidv7(now);
  const key = options.key ?? definition.key(valid);
  if (typeof key !== 'string' || key.length === 0) {
    const why = options.key === undefined ? `${definition.type} produced an empty partition key` : 'key must be a non-empty string';
    throw new HeraldError(CoreErrors.invalidOptions, `publish: ${why}`);
  }
  const envelope: Envelope<Static<S>> = {
    id,
    type: definition.type,
    version: definition.version,
    topic: definition.topic,
    key,
    correlationId: options.correlationId ?? cause?.correlationId ?? id,
    causationId: options.causationId !== undefined ? options.causationId : (cause?.id ?? null),
    occurredAt: options.occurredAt === undefined ? isoTime(now) : isoDate(options.occurredAt),
    headers,
    data: valid,
  };
  const problem = envelopeProblem(envelope);
  if (problem !== undefined) throw new HeraldError(CoreErrors.invalidOptions, `publish: ${definition.type} event: ${problem}`);
  return envelope;
}

/** `occurredAt` given as an option: a valid `Date` (one out of its range holds no time). */
function isoDate(date: Date): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new HeraldError(CoreErrors.invalidOptions, `publish: occurredAt must be a valid Date, got ${String(date)}`);
  }
  return date.toISOString();
}

/** The last time formatted, and its text: the events of one call are mostly made in one millisecond. */
let lastTime = Number.NaN;
let lastIso = '';

/** `new Date(ms).toISOString()`, without a Date or a new string for the same millisecond. */
function isoTime(ms: number): string {
  if (ms !== lastTime) {
    lastIso = new Date(ms).toISOString();
    lastTime = ms;
  }
  return lastIso;
}

/** An event's headers: the trace context of its cause, then the caller's; string names and values only. */
function headersOf(options: PublishOptions, cause: Envelope | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (cause) for (const name of PROPAGATED_HEADERS) if (cause.headers[name] !== undefined) headers[name] = cause.headers[name]!;
  const given: unknown = options.headers;
  if (given !== undefined && given !== null) {
    // Object.assign would spread a string's characters and copy symbol keys no record can carry
    if (typeof given !== 'object' || Array.isArray(given) || Object.getOwnPropertySymbols(given).length > 0) {
      throw new HeraldError(CoreErrors.invalidOptions, 'publish: headers must be an object of string names and string values');
    }
    Object.assign(headers, given);
  }
  const problem = headersProblem(headers);
  if (problem !== undefined) throw new HeraldError(CoreErrors.invalidOptions, `publish: ${problem}`);
  return headers;
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
  adjusted.schedule = (definition, data, options) => {
    const { id, key, at, afterMs, timerId, ...rest } = (options ?? {}) as ScheduleOptions & { at?: Date | number; afterMs?: number };
    const kept = { ...(id === undefined ? {} : { id }), ...(key === undefined ? {} : { key }), ...(timerId === undefined ? {} : { timerId }) };
    const when = at === undefined ? { afterMs } : { at };
    return publish.schedule(definition, data, { ...adjust(rest), ...kept, ...when } as ScheduleOptions);
  };
  adjusted.cancelTimer = (timerId) => publish.cancelTimer(timerId);
  return adjusted;
}

/**
 * The record value a publisher writes for `envelope`: its wire form, refused as `event-too-large`
 * past `maxBytes` and as `schema-violation` when its data holds text no store keeps (U+0000, a lone
 * surrogate), which every consumer would refuse: the caller learns it now, not a dead letter later.
 * JSON.stringify writes either as a `\u` escape, so a value without one is not walked.
 */
export function publishedValue(envelope: Envelope, maxBytes: number): string {
  const value = encodeEnvelopeValue(envelope, maxBytes);
  const unstorable = unstorableDataError(value, envelope);
  if (unstorable) throw unstorable;
  return value;
}
