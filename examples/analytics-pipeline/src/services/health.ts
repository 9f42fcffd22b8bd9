import type { App, SqlTx } from '@herald/core';
import { createGateway, type Gateway, type GatewayMetrics } from '@herald/http';

/** Options of {@link createHealthHttp}. */
export interface HealthHttpOptions {
  readonly shutdownDeadlineMs: number;
  readonly metrics: GatewayMetrics;
}

/**
 * The consumer's HTTP port (seed 001's 8082): no routes of its own, only what every Herald
 * gateway serves: `/livez`, `/readyz` (ready once its consumer groups hold their partitions) and
 * `/metrics` (Prometheus, Herald's names and the seed's).
 */
export function createHealthHttp(app: App<SqlTx>, options: HealthHttpOptions): Gateway<SqlTx> {
  return createGateway<SqlTx>({ app, shutdown: { deadlineMs: options.shutdownDeadlineMs }, metrics: options.metrics });
}
