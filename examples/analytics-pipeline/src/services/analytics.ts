import type { App, SqlTx } from '@herald/core';
import { AnalyticsErrorCodes } from '@herald/analytics';
import { createGateway, HttpErrorCodes, type Gateway, type GatewayMetrics } from '@herald/http';
import { ErrorCodes } from '@herald/core';
import { Type } from '@sinclair/typebox';
import { PipelineErrorCodes } from '../errors.js';
import type { Queries } from '../queries.js';

const Range = { from: Type.String({ maxLength: 64 }), to: Type.String({ maxLength: 64 }) };
const CountsQuery = Type.Object({ ...Range, type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), window: Type.Optional(Type.String({ maxLength: 8 })) });
const TopTypesQuery = Type.Object({ ...Range, limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })) });
const SummaryQuery = Type.Object({ ...Range, window: Type.Optional(Type.String({ maxLength: 8 })) });
const UserParams = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 128 }) });
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
const LateQuery = Type.Object(Range);

/** The query API's domain errors, by the problem each one is. */
export const QUERY_PROBLEMS: Readonly<Record<string, string>> = {
  [PipelineErrorCodes.userNotFound]: HttpErrorCodes.notFound,
  [PipelineErrorCodes.invalidQuery]: ErrorCodes.invalidOptions,
  [AnalyticsErrorCodes.invalidQuery]: ErrorCodes.invalidOptions,
};

/** Options of {@link createAnalyticsHttp}. */
export interface AnalyticsHttpOptions {
  readonly queries: Queries;
  readonly shutdownDeadlineMs: number;
  readonly metrics: GatewayMetrics;
}

/**
 * The analytics service's HTTP face (times are RFC 3339, ranges `from` inclusive, `to` exclusive):
 * - `GET /v1/analytics/counts?type=&from=&to=&window=1m|5m|1h` → `{ series: [{ windowStart, windowEnd, count, uniqueUsers }] }`, final windows only;
 * - `GET /v1/analytics/users/{userId}` → `{ userId, events, firstSeen, lastSeen, byType }`, 404 when unknown;
 * - `GET /v1/analytics/top-types?from=&to=&limit=` → `{ types: [{ type, count }] }`;
 * - `GET /v1/metrics/{name}/summary?from=&to=&window=` → `{ series: [{ windowStart, windowEnd, count, min, max, avg, p95 }] }`;
 * - `GET /v1/analytics/late?from=&to=` → `{ from, to, late: [{ type, windowStart, windowEnd, count }] }`, minutes starting in the range;
 * a bad parameter is 422, every error problem+json. Also /livez, /readyz and /metrics.
 */
export function createAnalyticsHttp(app: App<SqlTx>, options: AnalyticsHttpOptions): Gateway<SqlTx> {
  const { queries } = options;
  const gateway = createGateway<SqlTx>({
    app,
    problems: { errorKinds: QUERY_PROBLEMS },
    shutdown: { deadlineMs: options.shutdownDeadlineMs },
    metrics: options.metrics,
  });
  gateway.query({ url: '/v1/analytics/counts', querystring: CountsQuery, handle: ({ query }) => queries.counts(query) });
  gateway.query({ url: '/v1/analytics/users/:userId', params: UserParams, handle: ({ params }) => queries.user(params.userId) });
  gateway.query({ url: '/v1/analytics/top-types', querystring: TopTypesQuery, handle: ({ query }) => queries.topTypes({ from: query.from, to: query.to, ...(query.limit ? { limit: Number(query.limit) } : {}) }) });
  gateway.query({ url: '/v1/metrics/:name/summary', params: NameParams, querystring: SummaryQuery, handle: ({ params, query }) => queries.metricSummary({ ...query, name: params.name }) });
  gateway.query({ url: '/v1/analytics/late', querystring: LateQuery, handle: ({ query }) => queries.late(query) });
  return gateway;
}
