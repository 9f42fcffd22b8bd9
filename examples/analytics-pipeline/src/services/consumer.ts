import { backoffDelay, HeraldError, isHeraldError, type App, type Clock, type SqlTx } from '@herald/core';
import { AnalyticsErrorCodes, type AnalyticsStore } from '@herald/analytics';
import { createTopology, TimeWindows, type StreamRecord, type Topology } from '@herald/stream';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { PipelineErrors } from '../errors.js';
import { AnalyticsEvent, EVENT_TYPES, GROUPS, MetricSample } from '../events.js';
import { maxFutureSkewOf } from '../ingest.js';
import { textIssues } from '../text.js';
import { dropMinute, holdEvent, minuteEvents, releaseLate } from './minuteEvents.js';
import { minuteEventsTable } from './minuteUpgrade.js';

/** The window every event is judged and stored by; 5-minute and hourly windows are unions of these. */
export const MINUTE_MS = 60_000;
/** The aggregation's name; its window state is `analytics-stream.events-1m`. */
export const MINUTE_AGGREGATION = 'events-1m';
/** Where the stream keeps the open minutes and each partition's stream time (read by the analytics service). */
export const MINUTE_WINDOW_STORE = `${GROUPS.stream}.${MINUTE_AGGREGATION}`;

/** Options of {@link registerConsumer}. */
export interface ConsumerOptions {
  readonly store: AnalyticsStore;
  /**
   * How long after a minute's end (in stream time) its out-of-order events are still taken; also
   * how far ahead of this process's clock an event time may be (`maxFutureSkewOf`).
   */
  readonly graceMs: number;
  readonly idleTimeoutMs: number;
}

type AnalyticsData = (typeof AnalyticsEvent)['schema']['static'];

/**
 * The consumer service (stream processing):
 * - `analytics-stream` reads `analytics-events`: an event whose time is more than the grace ahead
 *   of this process's clock is dead-lettered (`invalid-event-time`) instead of moving its
 *   partition's stream time ahead; each event's text, type and properties are checked (text the
 *   analytics store cannot keep, a type not in {@link EVENT_TYPES} or properties that do not
 *   match fail it without retry, so it is dead-lettered with the reason); then, per user, events
 *   are gathered in one-minute tumbling windows on event time with `graceMs` of grace. When a minute closes (stream time
 *   past its end plus grace), its final content is appended to the analytics store, once; an
 *   event arriving after its minute closed goes to the side output, stored as a late event of its
 *   type and minute. Counting every window size from the same closed minutes means an event is on
 *   time or late once, and the 5-minute and hourly series agree with the minutes. The window state
 *   of a minute is its count; its events wait in their own rows ({@link holdEvent}), so a batch
 *   writes what it brings, not the whole minute again.
 * - `metrics-consumer` reads `metrics-data` and appends each sample.
 * Appends to the analytics store are idempotent by id, so a batch replayed after a crash (the
 * stream's transaction rolled back after the append) stores nothing twice. An append the store
 * fails as unavailable is tried again until the attempt's deadline ({@link appendThroughOutage}).
 */
export function registerConsumer(app: App<SqlTx>, options: ConsumerOptions): Topology<SqlTx> {
  const { store } = options;
  const topology = createTopology<SqlTx>({ name: GROUPS.stream, idleTimeoutMs: options.idleTimeoutMs });
  const checked = topology.from(AnalyticsEvent, { maxFutureSkewMs: maxFutureSkewOf(options.graceMs) }).map(checkType);
  // the minute keeps a count; its events wait in MINUTE_EVENTS_TABLE (see minuteEvents.ts)
  checked
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(MINUTE_MS, options.graceMs))
    .count(MINUTE_AGGREGATION, {
      late: {
        handler: async (late, ctx) => {
          const window = late.windows[0]!;
          // held below like every event, before the aggregation found it late
          await releaseLate(ctx.tx, { userId: late.key, windowStart: window.start }, late.value.eventId);
          await appendThroughOutage(app.clock, ctx.signal, () => store.appendLate([{ eventId: late.value.eventId, type: late.value.type, occurredAt: late.timestamp, windowStart: window.start, windowEnd: window.end, arrivedAt: app.clock.now() }]));
        },
      },
    })
    .forEach(async (result, ctx) => {
      const minute = { userId: result.key, windowStart: result.value.start };
      const events = await minuteEvents(ctx.tx, minute);
      await appendThroughOutage(app.clock, ctx.signal, () => store.appendEvents(events));
      await dropMinute(ctx.tx, minute);
    });
  checked.forEach(async (record, ctx) => {
    const { eventId, userId, type, properties } = record.value;
    await holdEvent(ctx.tx, { userId: record.key, windowStart: minuteStart(record.timestamp) }, { eventId, userId, type, occurredAt: record.timestamp, properties });
  });
  app.use(minuteEventsTable(app, { windowStore: MINUTE_WINDOW_STORE }));
  topology.install(app);

  app.onBatch(MetricSample, { group: GROUPS.metrics }, async (events, ctx) => {
    const samples = events.map((e) => ({ pointId: e.id, name: e.data.name, value: e.data.value, occurredAt: Date.parse(e.occurredAt), labels: e.data.labels }));
    await appendThroughOutage(app.clock, ctx.signal, () => store.appendMetrics(samples));
  });
  return topology;
}

/** The waits between appends while the analytics store is unavailable: 200 ms, doubling, at most 5 s. */
const OUTAGE_BACKOFF = { initialDelayMs: 200, maxDelayMs: 5_000, factor: 2, jitter: 0.2 } as const;

/**
 * Runs `append` until it succeeds, trying again while it fails with the store's retriable
 * `analytics-unavailable`, until `signal` aborts (the attempt's deadline: the handler `timeoutMs`,
 * 30 s by default; or shutdown); then the last failure is thrown, and the handler's retry policy
 * takes over. Any other failure is thrown at once. A minute's content is appended in the
 * transaction of the record that closed it: thrown at the first failure, that record would be
 * dead-lettered after a few seconds of retries although it is on time and fine, and, redriven
 * after later records moved stream time on, found late. Held here, it waits out an outage of up
 * to `maxAttempts` deadlines (see the README's "Analytics store outages").
 */
export async function appendThroughOutage(clock: Clock, signal: AbortSignal, append: () => Promise<unknown>): Promise<void> {
  for (let failures = 1; ; failures++) {
    try {
      await append();
      return;
    } catch (error) {
      if (!isHeraldError(error) || error.code !== AnalyticsErrorCodes.unavailable || signal.aborted) throw error;
      await clock.sleep(backoffDelay(OUTAGE_BACKOFF, failures), signal).catch(() => {
        throw error;
      });
    }
  }
}

/** The start of the minute an event time (never negative) is in: its one tumbling window's, as the stream's `windowsFor` finds it. */
const minuteStart = (timestamp: number): number => Math.floor(timestamp / MINUTE_MS) * MINUTE_MS;

const checks = new Map<string, TypeCheck<TSchema>>(Object.entries(EVENT_TYPES).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]));

/**
 * The event, if its text can be stored, its type is known and its properties match; else a
 * non-retriable error (dead letter). The text is checked here, before the event joins its minute:
 * the store would refuse it only when the minute closes, failing the append of every event of the
 * minute and, with it, the unrelated record that closed the minute.
 */
function checkType(record: StreamRecord<AnalyticsData>): AnalyticsData {
  const { type, properties, eventId } = record.value;
  const unstorable = textIssues(record.value, '');
  if (unstorable.length > 0) {
    throw new HeraldError(PipelineErrors.invalidText, `event ${JSON.stringify(eventId)}: ${unstorable.map((i) => `${JSON.stringify(i.path)}: ${i.message}`).join('; ')}`, { details: { issues: unstorable } });
  }
  const check = checks.get(type);
  if (!check) throw new HeraldError(PipelineErrors.unknownEventType, `event ${eventId}: unknown event type "${type}"`, { details: { type } });
  if (!check.Check(properties)) {
    const issues = [...check.Errors(properties)].slice(0, 10).map((e) => ({ path: `/properties${e.path}`, message: e.message }));
    throw new HeraldError(PipelineErrors.invalidProperties, `event ${eventId} (${type}): ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: { type, issues } });
  }
  return record.value;
}
