// What the analytics store conformance suite's files share: a time, records and error codes.
import { HeraldError } from '@herald/core';
import type { AnalyticsEvent, LateEvent, MetricPoint } from './types.js';

export const MINUTE = 60_000;
export const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

export const event = (eventId: string, userId: string, type: string, occurredAt: number, properties: Record<string, unknown> = {}): AnalyticsEvent => ({ eventId, userId, type, occurredAt, properties });
export const point = (pointId: string, name: string, value: number, occurredAt: number): MetricPoint => ({ pointId, name, value, occurredAt, labels: { host: 'a' } });
export const late = (eventId: string, type: string, windowStart: number): LateEvent => ({ eventId, type, occurredAt: windowStart + 1, windowStart, windowEnd: windowStart + MINUTE, arrivedAt: windowStart + 10 * MINUTE });

/** The code a call fails with (a description of what it threw, if not a Herald error); undefined if it succeeds. */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof HeraldError ? error.code : `not a HeraldError: ${String(error)}`;
  }
}
