import type { Instrumentation } from '@herald/core';
import type { GatewayMetrics } from '@herald/http';
import type { HeraldMetrics } from '@herald/metrics';
// prom-client is @herald/metrics' own library: the seed's names are registered on the app's registry beside Herald's
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Seed 001's metric names, besides Herald's own (`herald_*`); the dashboards query both. */
export const SEED_METRICS = {
  eventsProcessed: 'events_processed_total',
  processingDuration: 'event_processing_duration_seconds',
  consumerLag: 'kafka_consumer_lag_total',
  errors: 'errors_total',
} as const;

/** What the seed's names count, and where an error came from (`errors_total{source}`). */
export type ErrorSource = 'http' | 'grpc' | 'consumer';

/** The seed's metrics of one process: fed by the app's facts, by the HTTP gateways and by the gRPC servers. */
export interface SeedMetrics {
  /** What a gateway takes as `metrics`: Herald's scrape (both sets share the registry) and an observer that also counts HTTP errors. */
  readonly gateway: GatewayMetrics;
  /** Counts one failed gRPC call (`errors_total{source="grpc", code=<status name>}`). */
  grpcError(code: string): void;
  /** Stops following the app's facts. */
  close(): void;
}

/**
 * Registers seed 001's names on the app's metrics registry:
 * - `events_processed_total{group, outcome}`: deliveries the consumer finished (`applied`,
 *   `duplicate`, `dead-lettered`), from the app's `handled` facts;
 * - `event_processing_duration_seconds{group}`: the time one delivery took in the consumer's
 *   pipeline (attempts and backoff included);
 * - `kafka_consumer_lag_total{group}`: records not yet consumed, summed over the group's
 *   partitions (Herald's `herald_consumer_lag`, read at each scrape);
 * - `errors_total{source, code}`: HTTP answers of 400 and more (`code` the status), failed gRPC
 *   calls (`code` the status name) and dead-lettered events (`code` the reason).
 */
export function createSeedMetrics(metrics: HeraldMetrics, instrumentation: Instrumentation): SeedMetrics {
  const registry: Registry = metrics.registry;
  const processed = new Counter({ name: SEED_METRICS.eventsProcessed, help: 'Events the consumer finished handling, by outcome.', labelNames: ['group', 'outcome'], registers: [registry] });
  const duration = new Histogram({
    name: SEED_METRICS.processingDuration,
    help: 'Time the consumer took to handle one event, retries included.',
    labelNames: ['group'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const errors = new Counter({ name: SEED_METRICS.errors, help: 'Errors: HTTP answers >= 400, failed gRPC calls, dead-lettered events.', labelNames: ['source', 'code'], registers: [registry] });
  new Gauge({
    name: SEED_METRICS.consumerLag,
    help: 'Records not yet consumed, summed over the partitions of each consumer group.',
    labelNames: ['group'],
    registers: [registry],
    async collect() {
      const lag = registry.getSingleMetric('herald_consumer_lag') as Gauge | undefined;
      const totals = new Map<string, number>();
      for (const sample of (await lag?.get())?.values ?? []) {
        const group = String(sample.labels['group'] ?? '');
        totals.set(group, (totals.get(group) ?? 0) + sample.value);
      }
      this.reset();
      for (const [group, total] of totals) this.set({ group }, total);
    },
  });
  const count = (source: ErrorSource, code: string) => errors.inc({ source, code });
  const unsubscribe = instrumentation.on((fact) => {
    if (fact.kind === 'handled') {
      processed.inc({ group: fact.group, outcome: fact.outcome });
      duration.observe({ group: fact.group }, fact.durationMs / 1000);
    } else if (fact.kind === 'dead-lettered') {
      count('consumer', fact.reason);
    }
  });
  return {
    gateway: {
      scrape: () => metrics.scrape(),
      observeRequest(request) {
        metrics.observeRequest(request);
        if (request.statusCode >= 400) count('http', String(request.statusCode));
      },
    },
    grpcError: (code) => count('grpc', code),
    close: unsubscribe,
  };
}
