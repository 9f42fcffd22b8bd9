import type { App, Logger, SqlTx } from '@herald/core';
import type { PipelineConfig, Service } from './config.js';
import { createAnalyticsGrpc } from './grpc/analytics.js';
import { createProducerGrpc } from './grpc/producer.js';
import type { FinishedCall } from './grpc/server.js';
import { maxFutureSkewOf } from './ingest.js';
import { loadServices } from './grpc/protos.js';
import type { Queries } from './queries.js';
import type { SeedMetrics } from './seedMetrics.js';
import { createAnalyticsHttp } from './services/analytics.js';
import { createHealthHttp } from './services/health.js';
import { createProducerHttp } from './services/producer.js';

/** Where each listener of a started process answers (only those of the services it runs). */
export interface PipelineUrls {
  readonly producerHttp?: string;
  readonly consumerHttp?: string;
  readonly analyticsHttp?: string;
  /** `host:port` of the producer's gRPC server. */
  readonly producerGrpc?: string;
  /** `host:port` of the analytics service's gRPC server. */
  readonly analyticsGrpc?: string;
}

/** One HTTP gateway or gRPC server of a service. */
export interface Listener {
  readonly key: keyof PipelineUrls;
  /** Binds its port on `config.host`; resolves with its URL (HTTP) or `host:port` (gRPC). */
  listen(): Promise<string>;
  /** HTTP: /readyz answers 200 from now on (the consumer groups hold their partitions). */
  markReady(): void;
  /** Drains what is in flight until the shutdown deadline, then stops. */
  close(): Promise<void>;
}

/** What {@link createListeners} needs besides the app. */
export interface ListenerDeps {
  readonly config: PipelineConfig;
  readonly runs: ReadonlySet<Service>;
  readonly seed: SeedMetrics;
  readonly logger: Logger;
  /** Present when the process runs the analytics service. */
  readonly queries: Queries | undefined;
}

/**
 * The listeners of the services a process runs, on seed 001's ports: the producer's HTTP and
 * gRPC, the consumer's HTTP (health and metrics), the analytics service's HTTP and gRPC.
 */
export function createListeners(app: App<SqlTx>, deps: ListenerDeps): Listener[] {
  const { config, runs, seed, logger, queries } = deps;
  const { host, ports } = config;
  const { shutdownDeadlineMs } = config.runtime;
  const http = { shutdownDeadlineMs, metrics: seed.gateway };
  // the producer refuses what the consumer's stream would dead-letter: both judge by the same grace
  const maxFutureSkewMs = maxFutureSkewOf(config.graceMs);
  const gateway = (key: keyof PipelineUrls, port: number, made: ReturnType<typeof createProducerHttp>): Listener => ({
    key,
    listen: async () => (await made.listen({ port, host })).url,
    markReady: () => made.markReady(),
    close: () => made.close(),
  });
  const grpcServer = (key: keyof PipelineUrls, port: number, made: ReturnType<typeof createProducerGrpc>): Listener => ({
    key,
    listen: () => made.listen({ port, host }),
    markReady: () => {},
    close: () => made.close(shutdownDeadlineMs),
  });
  const listeners: Listener[] = [];
  const services = runs.has('producer') || queries ? loadServices() : undefined;
  const grpcOptions = { logger, onCall: (call: FinishedCall) => seed.grpcCall(call) };
  if (runs.has('producer')) {
    listeners.push(gateway('producerHttp', ports.producerHttp, createProducerHttp(app, { ...http, maxFutureSkewMs })));
    listeners.push(grpcServer('producerGrpc', ports.producerGrpc, createProducerGrpc(services!.Producer.service, { ...grpcOptions, publish: app.publishDirect, maxFutureSkewMs })));
  }
  if (runs.has('consumer')) listeners.push(gateway('consumerHttp', ports.consumerHttp, createHealthHttp(app, http)));
  if (queries) {
    listeners.push(gateway('analyticsHttp', ports.analyticsHttp, createAnalyticsHttp(app, { ...http, queries })));
    listeners.push(grpcServer('analyticsGrpc', ports.analyticsGrpc, createAnalyticsGrpc(services!.Analytics.service, { ...grpcOptions, queries })));
  }
  return listeners;
}
