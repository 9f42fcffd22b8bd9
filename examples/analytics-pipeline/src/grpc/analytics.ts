import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@herald/core';
import type { Queries } from '../queries.js';
import { createGrpcServer, unary, type GrpcServer } from './server.js';

/** Options of {@link createAnalyticsGrpc}. */
export interface AnalyticsGrpcOptions {
  readonly queries: Queries;
  readonly logger: Logger;
  /** Counts a failed call (`errors_total{source="grpc"}`). */
  readonly onError: (code: string) => void;
}

type Range = { from: string; to: string };

/**
 * The analytics service's gRPC server (`proto/analytics.proto`): the same queries as its HTTP
 * face, answered from the same {@link Queries}, so both answer alike; empty strings (proto3's
 * defaults) mean "not given".
 */
export function createAnalyticsGrpc(service: grpc.ServiceDefinition, options: AnalyticsGrpcOptions): GrpcServer {
  const { queries } = options;
  const failures = { onError: options.onError, logger: options.logger };
  const optional = (value: string) => (value === '' ? undefined : value);
  const implementation: grpc.UntypedServiceImplementation = {
    Counts: unary(
      (r: Range & { window: string; type: string }) => queries.counts({ from: r.from, to: r.to, ...(r.window ? { window: r.window } : {}), ...(r.type ? { type: r.type } : {}) }),
      failures,
    ),
    User: unary((r: { userId: string }) => queries.user(r.userId), failures),
    TopTypes: unary((r: Range & { limit: number }) => queries.topTypes({ from: r.from, to: r.to, ...(r.limit ? { limit: r.limit } : {}) }), failures),
    MetricSummary: unary((r: Range & { name: string; window: string }) => queries.metricSummary({ name: r.name, from: r.from, to: r.to, window: optional(r.window) }), failures),
    Late: unary((r: Range) => queries.late({ from: r.from, to: r.to }), failures),
  };
  return createGrpcServer(service, implementation, options.logger);
}
