import type { App, SqlTx } from '@herald/core';
import { createGateway, type Gateway, type GatewayMetrics } from '@herald/http';
import { appendEvents, appendMetric, assertValid, createIngestChecks, IngestBatchBody, IngestEventBody, IngestMetricBody } from '../ingest.js';

/** Largest request body the producer takes (seed 001: batches of up to 1,000 events); larger is 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Options of {@link createProducerHttp}. */
export interface ProducerHttpOptions {
  readonly shutdownDeadlineMs: number;
  readonly metrics: GatewayMetrics;
  /** How far ahead of this process's clock an event time may be (`maxFutureSkewOf(graceMs)`). */
  readonly maxFutureSkewMs: number;
}

/**
 * The producer's HTTP face (ingest routes: each append goes straight to the log, no outbox, and
 * the answer waits until it is durable):
 * - `POST /v1/events` → 202 `{ eventId }` (generated when absent);
 * - `POST /v1/events:batch` `{ events: [...] }` (1 to 1,000) → 202 `{ accepted }`, or 422 listing
 *   every invalid event by index, with nothing appended;
 * - `POST /v1/metrics` → 202 `{ accepted: 1 }`;
 * bodies over 1 MiB → 413; an event time more than `maxFutureSkewMs` ahead of this process's
 * clock → 422; every error is problem+json. Also /livez, /readyz and /metrics.
 */
export function createProducerHttp(app: App<SqlTx>, options: ProducerHttpOptions): Gateway<SqlTx> {
  const checks = createIngestChecks({ maxFutureSkewMs: options.maxFutureSkewMs });
  const gateway = createGateway<SqlTx>({
    app,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    shutdown: { deadlineMs: options.shutdownDeadlineMs },
    metrics: options.metrics,
  });
  gateway.ingest({
    url: '/v1/events',
    body: IngestEventBody,
    handle: async ({ body, publish }) => {
      assertValid(checks.eventRuleIssues(body), 'event');
      const [eventId] = await appendEvents(publish, [body]);
      return { eventId: eventId! };
    },
  });
  gateway.ingest({
    // `::` is a literal colon for fastify's router; `/v1/events:batch` would be `/v1/events` and a
    // parameter, matching `/v1/eventsanything`
    url: '/v1/events::batch',
    body: IngestBatchBody,
    handle: async ({ body, publish }) => ({ accepted: (await appendEvents(publish, checks.checkEvents(body.events))).length }),
  });
  gateway.ingest({
    url: '/v1/metrics',
    body: IngestMetricBody,
    handle: async ({ body, publish }) => {
      assertValid(checks.metricIssues(body), 'metric');
      await appendMetric(publish, body);
      return { accepted: 1 };
    },
  });
  return gateway;
}
