import type Database from 'better-sqlite3';
import type { Logger } from '@herald/core';

/**
 * The retention settings a sweeping handle applies and records in `herald_log_defaults`: records
 * of topics that declare none (`retentionMs`, `retentionBytes`; NULL: no limit) and consumer
 * groups' offsets (`offsetsRetentionMs`; NULL: forever).
 */
export interface LogDefaults {
  readonly retentionMs: number | null;
  readonly retentionBytes: number | null;
  readonly offsetsRetentionMs: number | null;
}

const NAMES: { readonly [K in keyof LogDefaults]: string } = {
  retentionMs: 'retention_ms',
  retentionBytes: 'retention_bytes',
  offsetsRetentionMs: 'offsets_retention_ms',
};

type DefaultRow = { name: string; value: number | null };

/**
 * Records `own` as the file's retention settings, for every handle's inspector: written by the
 * handle that sweeps (the app's), in the caller's transaction. Returns what another sweeping handle
 * had recorded when it differs (each process sweeps with its own: another process sharing the file
 * with a shorter retention deletes what this one means to keep). A setting a handle of an earlier
 * release left unrecorded does not differ.
 */
export function recordLogDefaults(db: Database.Database, own: LogDefaults): LogDefaults | undefined {
  const before = readLogDefaults(db.prepare<[], DefaultRow>('SELECT name, value FROM herald_log_defaults').all(), own);
  const upsert = db.prepare('INSERT INTO herald_log_defaults (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
  for (const key of Object.keys(NAMES) as (keyof LogDefaults)[]) upsert.run(NAMES[key], own[key]);
  return (Object.keys(NAMES) as (keyof LogDefaults)[]).some((key) => before[key] !== own[key]) ? before : undefined;
}

/** The settings named in `fallback` as the sweeping handle recorded them (else `fallback`'s). */
export function readLogDefaults<K extends keyof LogDefaults>(rows: readonly DefaultRow[], fallback: Pick<LogDefaults, K>): Pick<LogDefaults, K> {
  const recorded = new Map(rows.map((row) => [row.name, row.value]));
  const entries = (Object.keys(fallback) as K[]).map((key) => [key, recorded.has(NAMES[key]) ? recorded.get(NAMES[key])! : fallback[key]]);
  return Object.fromEntries(entries) as Pick<LogDefaults, K>;
}

/** Warns, naming both, about each kind of retention the file was last swept with differently (see {@link recordLogDefaults}). */
export function warnOtherDefaults(logger: Logger, path: string, recorded: LogDefaults, own: LogDefaults): void {
  if (recorded.retentionMs !== own.retentionMs || recorded.retentionBytes !== own.retentionBytes) {
    logger.warn(
      `log: ${path} was swept with another retention for topics that declare none (retentionMs ${String(recorded.retentionMs)}, retentionBytes ${String(recorded.retentionBytes)}; this handle: ${String(own.retentionMs)}, ${String(own.retentionBytes)}). Every process sharing the file sweeps with its own, so the shortest wins: give them the same retention, or declare retention on the topics`,
      { path, recorded: { retentionMs: recorded.retentionMs, retentionBytes: recorded.retentionBytes }, own: { retentionMs: own.retentionMs, retentionBytes: own.retentionBytes } },
    );
  }
  if (recorded.offsetsRetentionMs !== own.offsetsRetentionMs) {
    logger.warn(
      `log: ${path} was swept with another retention for consumer groups' offsets (offsetsRetentionMs ${String(recorded.offsetsRetentionMs)}; this handle: ${String(own.offsetsRetentionMs)}). Every process sharing the file expires idle groups with its own, so the shortest wins: give them the same offsetsRetentionMs`,
      { path, recorded: { offsetsRetentionMs: recorded.offsetsRetentionMs }, own: { offsetsRetentionMs: own.offsetsRetentionMs } },
    );
  }
}
