import type Database from 'better-sqlite3';
import type { Clock, RetentionSweepResult } from '@herald/core';
import { PURGE_SAGAS_SQL } from './sagas.js';
import type { TxRunner, TxScope } from './txRunner.js';

export interface StoreRetentionSettings {
  /** Published outbox rows older than this (by publication time) are deleted. */
  readonly outboxRetentionMs: number;
  /** Inbox marks older than this are deleted; a duplicate older than it is no longer recognised. */
  readonly inboxRetentionMs: number;
  /** Resolved (redriven or discarded) dead letters older than this (by resolution time) are deleted. */
  readonly deadLetterRetentionMs: number;
  /** Finished saga instances not saved for this long are deleted; running and awaiting-start ones never. */
  readonly sagaRetentionMs: number;
  /** Most rows deleted per transaction. */
  readonly chunk: number;
}


/**
 * Deletes the watermark moves no kept outbox row needs (a move is needed while a row it covers is
 * kept), slot by slot through the primary key (slot, up_to_seq). Relays record a move per slot and
 * round, kept as long as the rows: a condition on `up_to_seq` alone read every one of them, at
 * every sweep (9 ms per 240,000 moves, growing with the table), to find the few it deletes.
 */
export const MARKS_DELETE_SQL = `DELETE FROM herald_outbox_marks
    WHERE slot IN (SELECT slot FROM herald_outbox_slots) AND up_to_seq < (SELECT coalesce(min(seq), 0) FROM herald_outbox)`;

/**
 * The first outbox row to keep with a `seq` from the first parameter up to (not including) the
 * second, the cutoff time the third: not yet published (above its slot's watermark), or young; and
 * never the newest row, so that seq (a rowid) is never reused below a watermark. Read within one
 * chunk's stretch: a look from the outbox's start read every old row before it at every chunk (a
 * sweep's work grew with the square of what it deleted, each step under the write lock: 3.4 s,
 * 116 ms a step, for 290,000 rows).
 */
export const OUTBOX_KEEP_SQL = `SELECT o.seq FROM herald_outbox o JOIN herald_outbox_slots s ON s.slot = o.slot
    WHERE o.seq >= ? AND o.seq < ? AND (
      (o.seq > s.published_seq AND o.published_at IS NULL)
      OR coalesce(o.published_at, (SELECT m.published_at FROM herald_outbox_marks m WHERE m.slot = o.slot AND m.up_to_seq >= o.seq ORDER BY m.up_to_seq LIMIT 1)) >= ?
      OR o.seq = (SELECT max(seq) FROM herald_outbox))
    ORDER BY o.seq LIMIT 1`;

/** The first inbox mark to keep (young) with a `seq` in the same stretch, the cutoff time the third parameter: see {@link OUTBOX_KEEP_SQL}. */
export const INBOX_KEEP_SQL = 'SELECT seq FROM herald_inbox WHERE seq >= ? AND seq < ? AND handled_at >= ? ORDER BY seq LIMIT 1';

/**
 * Deletes old published outbox rows, old inbox marks, resolved dead letters past their retention
 * (dead and parked ones are never deleted), expired idempotency records, and saga instances that
 * finished and were not saved for `sagaRetentionMs` (running and awaiting-start ones are never
 * deleted; see {@link PURGE_SAGAS_SQL}). Outbox and inbox rows are deleted as a prefix in
 * `seq` order (the order they were written), so finding them costs what deleting them costs; a
 * prefix stops at the first row that must stay (for the outbox, an unpublished one), which can
 * hold back younger rows behind it until it goes.
 */
export function createStoreRetention(writer: Database.Database, runner: TxRunner, clock: Clock, settings: StoreRetentionSettings) {
  const s = {
    outboxKeep: writer.prepare<unknown[], number>(OUTBOX_KEEP_SQL).pluck(),
    outboxFirst: writer.prepare<unknown[], number | null>('SELECT min(seq) FROM herald_outbox').pluck(),
    outboxDelete: writer.prepare('DELETE FROM herald_outbox WHERE seq < ?'),
    marksDelete: writer.prepare(MARKS_DELETE_SQL),
    inboxKeep: writer.prepare<unknown[], number>(INBOX_KEEP_SQL).pluck(),
    inboxFirst: writer.prepare<unknown[], number | null>('SELECT min(seq) FROM herald_inbox').pluck(),
    inboxDelete: writer.prepare('DELETE FROM herald_inbox WHERE seq < ?'),
    idempotencyPurge: writer.prepare('DELETE FROM herald_idempotency WHERE expires_at <= ?'),
    deadLetterPurge: writer.prepare(
      'DELETE FROM herald_dead_letters WHERE seq IN (SELECT seq FROM herald_dead_letters WHERE resolved_at IS NOT NULL AND resolved_at < ? LIMIT ?)',
    ),
    sagaPurge: writer.prepare(PURGE_SAGAS_SQL),
  };

  type Stmt<Row = unknown> = Database.Statement<unknown[], Row>;
  function prefixStep(scope: TxScope, first: Stmt<number | null>, keep: Stmt<number>, remove: Stmt, cutoff: number): number {
    // rows before `stop` (the first row to keep) go, at most a chunk at a time: the look for it
    // reads only that chunk's rows
    const start = scope.get(first, []);
    if (start === null || start === undefined) return 0;
    const end = start + settings.chunk;
    const stop = scope.get(keep, [start, end, cutoff]) ?? end;
    return scope.run(remove, [Math.min(stop, end)]);
  }

  async function drain(step: (scope: TxScope) => number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await runner.run(step, { durable: 'none' });
      total += deleted;
      if (deleted < settings.chunk) return total;
    }
  }

  return {
    async sweep(): Promise<RetentionSweepResult> {
      const now = clock.now();
      const outbox = await drain((scope) => prefixStep(scope, s.outboxFirst, s.outboxKeep, s.outboxDelete, now - settings.outboxRetentionMs));
      await runner.run((scope) => scope.run(s.marksDelete, []), { durable: 'none' });
      const inbox = await drain((scope) => prefixStep(scope, s.inboxFirst, s.inboxKeep, s.inboxDelete, now - settings.inboxRetentionMs));
      const deadLetters = await drain((scope) => scope.run(s.deadLetterPurge, [now - settings.deadLetterRetentionMs, settings.chunk]));
      const idempotency = await runner.run((scope) => scope.run(s.idempotencyPurge, [now]), { durable: 'none' });
      const sagas = await drain((scope) => scope.run(s.sagaPurge, [now - settings.sagaRetentionMs, settings.chunk]));
      return { outbox, inbox, deadLetters, idempotency, sagas };
    },
  };
}
