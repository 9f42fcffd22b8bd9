import { ErrorCodes, HeraldError, type DeadLetterQuery, type DeadLetterStatus } from '@herald/core';
import { parseTime } from '../time.js';

/** The dead letter filters every `dlq` command accepts, as commander hands them over. */
export interface LetterFilterOptions {
  readonly group?: string;
  readonly handler?: string;
  readonly topic?: string;
  readonly key?: string;
  readonly type?: string;
  readonly reason?: string;
  readonly fingerprint?: string;
  readonly since?: string;
  readonly until?: string;
  readonly status?: string;
}

export const ALL_STATUSES: readonly DeadLetterStatus[] = ['dead', 'parked', 'redriven', 'discarded'];
/** Letters someone still has to act on: what `dlq` commands select unless told otherwise. */
export const PENDING: readonly DeadLetterStatus[] = ['dead', 'parked'];

/** `--status dead,parked` (or `all`) as a list; `fallback` when the option is absent. */
export function parseStatuses(value: string | undefined, fallback: readonly DeadLetterStatus[]): readonly DeadLetterStatus[] {
  if (value === undefined) return fallback;
  if (value.trim() === 'all') return ALL_STATUSES;
  const list = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = list.filter((s) => !(ALL_STATUSES as readonly string[]).includes(s));
  if (list.length === 0 || unknown.length > 0) {
    throw new HeraldError(ErrorCodes.invalidOptions, `--status takes ${ALL_STATUSES.join(', ')} (comma-separated) or all, got "${value}"`);
  }
  return [...new Set(list)] as DeadLetterStatus[];
}

/** The query the filter options describe (statuses apart). */
export function queryOf(options: LetterFilterOptions): Omit<DeadLetterQuery, 'status'> {
  const now = Date.now();
  return Object.fromEntries(
    Object.entries({
      group: options.group,
      handler: options.handler,
      topic: options.topic,
      key: options.key,
      eventType: options.type,
      reason: options.reason,
      fingerprint: options.fingerprint,
      since: options.since === undefined ? undefined : parseTime(options.since, '--since', now),
      until: options.until === undefined ? undefined : parseTime(options.until, '--until', now),
    }).filter(([, v]) => v !== undefined),
  ) as Omit<DeadLetterQuery, 'status'>;
}
