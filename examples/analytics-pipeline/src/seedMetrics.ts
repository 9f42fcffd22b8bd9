import type { Instrumentation } from '@herald/core';
import type { GatewayMetrics } from '@herald/http';
import type { HeraldMetrics } from '@herald/metrics';
import type { FinishedCall } from './grpc/server.js';
// prom-client is @herald/metrics' own library: the seed's names are registered on the app's registry beside Herald's
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Seed 001's metric names, besides Herald's own (`herald_*`); the dashboards query both. */
export const SEED_METRICS = {
  eventsProcessed: 'events_processed_total',
  processingDuration: 'event_processing_duration_seconds',
  consumerLag: 'kafka_consumer_lag_total',
  errors: 'errors_total',
} as const;

/**
 * The gRPC servers' metrics, under the names of go-grpc-prometheus, the interceptors seed 001's Go
 * services would have used (its "gRPC: interceptors for logging and metrics"), so their dashboards
 * and alerts read these: labels `grpc_type` (`unary`, `client_stream`), `grpc_service`,
 * `grpc_method`, and on the counter `grpc_code` (the status name).
 */
export const GRPC_METRICS = {
  handled: 'grpc_server_handled_total',
  handlingSeconds: 'grpc_server_handling_seconds',
} as const;

/** What the seed's names count, and where an error came from (`errors_total{source}`). */
export type ErrorSource = 'http' | 'grpc' | 'consumer';

/** The seed's metrics of one process: fed by the app's facts, by the HTTP gateways and by the gRPC servers. */
export interface SeedMetrics {
  /** What a gateway takes as `metrics`: Herald's scrape (both sets share the registry) and an observer that also counts HTTP errors. */
  readonly gateway: GatewayMetrics;
  /**
   * Counts one answered gRPC call by method and status and observes its duration
   * ({@link GRPC_METRICS}); a failed one also in `errors_total{source="grpc", code=<status name>}`.
   */
  grpcCall(call: FinishedCall): void;
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
 *   calls (`code` the status name) and dead-lettered events (`code` the reason);
 * and the gRPC servers' {@link GRPC_METRICS}, fed by `grpcCall`.
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
  const grpcLabels = ['grpc_type', 'grpc_service', 'grpc_method'];
  const handled = new Counter({ name: GRPC_METRICS.handled, help: 'gRPC calls answered by the servers, by method and status.', labelNames: [...grpcLabels, 'grpc_code'], registers: [registry] });
  const handling = new Histogram({
    name: GRPC_METRICS.handlingSeconds,
    help: 'Time the gRPC servers took to answer a call (a client stream: from its first message to the answer).',
    labelNames: grpcLabels,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
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
    grpcCall(call) {
      // `/herald.analytics.v1.Producer/Ingest`: service, then method
      const [, service = '', method = ''] = call.method.split('/');
      const labels = { grpc_type: call.type, grpc_service: service, grpc_method: method };
      handled.inc({ ...labels, grpc_code: call.code });
      handling.observe(labels, call.durationMs / 1000);
      if (call.code !== 'OK') count('grpc', call.code);
    },
    close: unsubscribe,
  };
}
