import { APP_DEFAULTS, createInstrumentation, RETRY_DEFAULTS, silentLogger, systemClock } from '@herald/core';
import { GATEWAY_DEFAULTS } from '@herald/http';
import { memoryBroker, memoryStores } from '@herald/testing';
import { describe, expect, it } from 'vitest';
import { createMetrics, HISTOGRAMS, parseExposition } from '../src/index.js';

/** The longest a delivery can spend in the default pipeline: every attempt timing out, every backoff at its longest (jitter only shortens it). */
function defaultPipelineWorstSeconds(): number {
  const { maxAttempts, initialDelayMs, maxDelayMs, factor } = RETRY_DEFAULTS;
  let backoffMs = 0;
  for (let attempt = 1; attempt < maxAttempts; attempt++) backoffMs += Math.min(maxDelayMs, initialDelayMs * factor ** (attempt - 1));
  return (maxAttempts * APP_DEFAULTS.handler.timeoutMs + backoffMs) / 1000;
}

describe('the histogram buckets', () => {
  it("reach past the default pipeline's longest delivery, and critical time past an hour's outage", () => {
    expect(defaultPipelineWorstSeconds()).toBe(165);
    expect(Math.max(...HISTOGRAMS.handlerDuration.buckets)).toBeGreaterThan(defaultPipelineWorstSeconds());
    expect(Math.max(...HISTOGRAMS.criticalTime.buckets)).toBeGreaterThanOrEqual(3600);
    for (const { buckets } of Object.values(HISTOGRAMS)) expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
  });

  it('put a delivery that used every attempt of the default pipeline in a finite bucket, not only in +Inf', async () => {
    const app = { instrumentation: createInstrumentation(), broker: memoryBroker(), stores: memoryStores(), clock: systemClock, logger: silentLogger, events: [], subscriptions: [] };
    const metrics = createMetrics({ app, pollIntervalMs: 0, processMetrics: false });
    const worstMs = defaultPipelineWorstSeconds() * 1000;
    const fact = { kind: 'handled', group: 'billing', handler: 'billing:OrderPlaced', eventId: 'e-1', eventType: 'OrderPlaced', topic: 'orders', partition: 0, offset: 0, attempts: 5 } as const;
    app.instrumentation.emit({ ...fact, outcome: 'dead-lettered', durationMs: worstMs, latencyMs: worstMs });
    // applied after a backlog of 40 minutes
    app.instrumentation.emit({ ...fact, outcome: 'applied', durationMs: 5, latencyMs: 40 * 60_000 });
    const samples = parseExposition((await metrics.scrape()).body);
    const finite = (name: string) => samples.filter((x) => x.name === name && x.labels['le'] !== '+Inf');
    expect(Math.max(...finite('herald_handler_duration_seconds_bucket').map((x) => x.value))).toBe(2);
    expect(Math.max(...finite('herald_critical_time_seconds_bucket').map((x) => x.value))).toBe(1);
    await metrics.close({ deadlineMs: 0 });
  });

  it("put a request past the gateway's request timeout, and a relay batch past one Kafka request timeout, in a finite bucket", async () => {
    const app = { instrumentation: createInstrumentation(), broker: memoryBroker(), stores: memoryStores(), clock: systemClock, logger: silentLogger, events: [], subscriptions: [] };
    const metrics = createMetrics({ app, pollIntervalMs: 0, processMetrics: false });
    // a route waiting on a lock as long as the gateway waits for a slow body, and a little more
    metrics.observeRequest({ method: 'POST', route: '/orders', statusCode: 201, durationMs: GATEWAY_DEFAULTS.requestTimeoutMs + 500 });
    // a batch whose first produce request timed out (Kafka's default: 30 s) and whose retry went through
    app.instrumentation.emit({ kind: 'relayed', count: 10, durationMs: 30_000 + 2_000 });
    const samples = parseExposition((await metrics.scrape()).body);
    const finite = (name: string) => samples.filter((x) => x.name === name && x.labels['le'] !== '+Inf');
    expect(Math.max(...finite('herald_http_request_duration_seconds_bucket').map((x) => x.value))).toBe(1);
    expect(Math.max(...finite('herald_relay_publish_duration_seconds_bucket').map((x) => x.value))).toBe(1);
    await metrics.close({ deadlineMs: 0 });
  });
});
