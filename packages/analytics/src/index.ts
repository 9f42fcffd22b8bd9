export type {
  AnalyticsEvent,
  AnalyticsStore,
  CountWindow,
  CountsQuery,
  LateEvent,
  LateWindow,
  MetricPoint,
  MetricSummaryQuery,
  MetricWindow,
  TimeRange,
  TopTypesQuery,
  TypeCount,
  UserSummary,
} from './types.js';
export type { AnalyticsRetention, AnalyticsRetentionOptions, AnalyticsSweepResult } from './retention.js';
export { sqliteAnalytics } from './sqlite.js';
export type { SqliteAnalyticsOptions } from './sqlite.js';
export { duckdbAnalytics } from './duckdb.js';
export type { DuckdbAnalyticsOptions } from './duckdb.js';
export { pgAnalytics } from './postgres.js';
export type { PgAnalyticsOptions } from './postgres.js';
export { AnalyticsErrors, AnalyticsErrorCodes } from './errors.js';
export { MAX_METRIC_VALUE, MAX_WINDOWS } from './validate.js';
