import type { Clock, RetentionSweepResult } from '@herald/core';
import { deleteInChunks } from './internal/chunks.js';
import type { Db } from './internal/db.js';
import { purgeResolvedDeadLetters } from './internal/deadLetters/purgeResolvedDeadLetters.js';
import { purgeExpiredIdempotency } from './internal/idempotency/purgeExpiredIdempotency.js';
import { sweepInbox } from './internal/inbox/sweepInbox.js';
import { sweepOutbox, sweepOutboxMarks } from './internal/outbox/sweepOutbox.js';
import { purgeSagas } from './internal/sagas/purgeSagas.js';

export interface RetentionSettings {
  readonly clock: Clock;
  readonly outboxRetentionMs: number;
  readonly inboxRetentionMs: number;
  readonly deadLetterRetentionMs: number;
  readonly sagaRetentionMs: number;
  readonly sweepIntervalMs: number;
  /** Whether the sweep also runs on the timer; false: only on demand. */
  readonly maintenance: boolean;
}

/**
 * The retention sweep, run every `sweepIntervalMs` on an unref'd timer (it never keeps the process
 * alive; none with `maintenance` off) and on demand. One sweep runs at a time per stores: asking while one runs joins it. Each
 * table is swept in chunks of bounded deletes that skip rows other transactions hold, so sweeps in
 * any number of processes run at once without failing, waiting on each other, or delaying relays
 * and consumers. A failed periodic sweep is logged and tried again at the next tick. `close()`
 * stops the timer and ends a sweep in flight after its current chunk (idempotent).
 */
export function startRetention(db: Db, settings: RetentionSettings) {
  let sweeping: Promise<RetentionSweepResult> | undefined;
  let closing: Promise<void> | undefined;
  // close() ends a sweep between two chunks rather than after the whole backlog
  const stop = new AbortController();
  const { signal } = stop;

  async function sweepOnce(): Promise<RetentionSweepResult> {
    const now = settings.clock.now();
    const { t } = db;
    const { outboxRetentionMs, inboxRetentionMs, deadLetterRetentionMs, sagaRetentionMs } = settings;
    const outbox = await deleteInChunks(db, 'sweep outbox', (limit) => sweepOutbox(t, { retentionMs: outboxRetentionMs, limit }), { signal });
    await deleteInChunks(db, 'sweep outbox watermark moves', (limit) => sweepOutboxMarks(t, { retentionMs: outboxRetentionMs, limit }), { signal });
    const inbox = await deleteInChunks(db, 'sweep inbox', (limit) => sweepInbox(t, { cutoff: now - inboxRetentionMs, limit }), { signal });
    const deadLetters = await deleteInChunks(db, 'purge dead letters', (limit) => purgeResolvedDeadLetters(t, { cutoff: now - deadLetterRetentionMs, limit }), { signal });
    const idempotency = await deleteInChunks(db, 'purge idempotency keys', (limit) => purgeExpiredIdempotency(t, { now, limit }), { signal });
    const sagas = await deleteInChunks(db, 'purge saga instances', (limit) => purgeSagas(t, { cutoff: now - sagaRetentionMs, limit }), { signal });
    return { outbox, inbox, deadLetters, idempotency, sagas };
  }

  function sweep(): Promise<RetentionSweepResult> {
    sweeping ??= sweepOnce().finally(() => (sweeping = undefined));
    return sweeping;
  }

  const timer = settings.maintenance
    ? setInterval(function sweepRetentionTick() {
        // retention is housekeeping: a failure must not escape the timer, only be reported
        sweep().catch((error: unknown) => db.logger.warn('pgStores: retention sweep failed; will try again at the next interval', { error }));
      }, settings.sweepIntervalMs)
    : undefined;
  timer?.unref();

  return {
    sweep,
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(timer);
        stop.abort();
        await sweeping?.catch(() => undefined);
      })();
      return closing;
    },
  };
}
