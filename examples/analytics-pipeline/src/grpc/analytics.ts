import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@herald/core';
import type { Queries } from '../queries.js';
import { createGrpcServer, unary, type CallObserver, type GrpcServer } from './server.js';

/** Options of {@link createAnalyticsGrpc}. */
export interface AnalyticsGrpcOptions {
  readonly queries: Queries;
  readonly logger: Logger;
  /** Told of every answered call (see `CallObserver`). */
  readonly onCall: CallObserver['onCall'];
}

type Range = { from: string; to: string };

/**
 * The analytics service's gRPC server (`proto/analytics.proto`): the same queries as its HTTP
 * face, answered from the same {@link Queries}, so both answer alike; empty strings (proto3's
 * defaults) mean "not given".
 */
export function createAnalyticsGrpc(service: grpc.ServiceDefinition, options: AnalyticsGrpcOptions): GrpcServer {
  const { queries } = options;
  const observer: CallObserver = { onCall: options.onCall, logger: options.logger };
  const optional = (value: string) => (value === '' ? undefined : value);
  const implementation: grpc.UntypedServiceImplementation = {
    Counts: unary(
      (r: Range & { window: string; type: string }) => queries.counts({ from: r.from, to: r.to, ...(r.window ? { window: r.window } : {}), ...(r.type ? { type: r.type } : {}) }),
      observer,
    ),
    User: unary((r: { userId: string }) => queries.user(r.userId), observer),
    TopTypes: unary((r: Range & { limit: number }) => queries.topTypes({ from: r.from, to: r.to, ...(r.limit ? { limit: r.limit } : {}) }), observer),
    MetricSummary: unary((r: Range & { name: string; window: string }) => queries.metricSummary({ name: r.name, from: r.from, to: r.to, window: optional(r.window) }), observer),
    Late: unary((r: Range) => queries.late({ from: r.from, to: r.to }), observer),
  };
  return createGrpcServer(service, implementation, options.logger);
}
