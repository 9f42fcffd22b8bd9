import { HeraldError } from '@herald/core';
import type { PoolClient } from 'pg';
import { PgErrors } from '../../errors.js';
import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { anyForeign, clusterXmax, findForeignIds, type ForeignIdsRow } from './findForeignIds.js';
import { advanceSequence, deleteMarks, foreignSlots, renumber, renumberPending, resetWatermarks, stampPublished } from './repairOutboxIds.js';

/**
 * What a repair after a move to another cluster found and changed (see findForeignIds.ts): the
 * foreign values found, then what was done to the outbox.
 */
export interface ForeignIdRepair {
  /** Outbox rows without a publication stamp of their own (unpublished, or published by their watermark) whose txid this cluster never assigned. */
  readonly outboxRows: number;
  /** Outbox slot watermarks this cluster never assigned (reset, with every watermark of their slots). */
  readonly watermarks: number;
  /** Dead letters whose txid this cluster never assigned. */
  readonly deadLetters: number;
  /** Outbox slots repaired. */
  readonly slots: number;
  /** Rows their slot's watermark had published, now stamped published on their own. */
  readonly stamped: number;
  /** Unpublished rows of those slots renumbered (txid 0, fresh seqs), in their order. */
  readonly renumbered: number;
  /** Dead letters renumbered (every one with a txid above 0), in their page order. */
  readonly lettersRenumbered: number;
}

type Run = (statement: Statement) => Promise<{ rows: unknown[]; rowCount: number | null }>;

/**
 * Counts the foreign ids (see findForeignIds.ts) on a schema at version 14 or later; undefined
 * when there are none (two read-only statements, the common case).
 */
export async function detectForeignIds(run: Run, t: Tables): Promise<ForeignIdsRow | undefined> {
  const { xmax } = (await run(clusterXmax())).rows[0] as { xmax: string };
  const { rows } = await run(findForeignIds(t, xmax));
  const found = rows[0] as ForeignIdsRow;
  return anyForeign(found) ? found : undefined;
}

/**
 * Repairs the foreign ids, if any, in one transaction on `client` (which must be in none): the
 * outbox's tables and the dead letters locked EXCLUSIVE (reads go on; writes, claims and marks
 * wait), the ids counted again under the locks (a concurrent repair may have done it), the outbox
 * repaired as repairOutboxIds.ts says, and every dead letter with a txid above 0 renumbered to
 * txid 0 with fresh seqs in (txid, seq) order: after those already at txid 0 and before every
 * letter added later, as they were. Returns what it did, or undefined when there was nothing.
 */
export async function repairForeignIds(client: PoolClient, t: Tables, step: (context: string) => void): Promise<ForeignIdRepair | undefined> {
  const run: Run = (statement) => client.query(statement);
  step('find foreign transaction ids');
  if (!(await detectForeignIds(run, t))) return undefined;
  step('repair foreign transaction ids');
  await client.query('BEGIN');
  try {
    await client.query(`LOCK TABLE ${t.outboxSlots}, ${t.outbox}, ${t.outboxMarks}, ${t.deadLetters} IN EXCLUSIVE MODE`);
    const found = await detectForeignIds(run, t);
    if (!found) {
      await client.query('COMMIT');
      return undefined;
    }
    const { xmax } = found;
    const slots = (await client.query<{ slot: number }>(foreignSlots(t, xmax))).rows.map((r) => r.slot);
    let stamped = 0;
    let renumbered = 0;
    if (slots.length > 0) {
      stamped = (await client.query(stampPublished(t, xmax, slots))).rowCount ?? 0;
      await client.query(deleteMarks(t, slots));
      renumbered = (await client.query(renumberPending(t, xmax, slots))).rowCount ?? 0;
      await client.query(resetWatermarks(t, slots));
    }
    let lettersRenumbered = 0;
    if (found.dead_letters > 0) {
      lettersRenumbered = (await client.query({ text: renumber(t.deadLetters, `txid > '0'::xid8`), values: [xmax] })).rowCount ?? 0;
    }
    // logical replication copies no sequence: a drained outbox needs its sequence past the kept rows too
    await client.query(advanceSequence(t.outbox));
    await client.query(advanceSequence(t.deadLetters));
    await client.query('COMMIT');
    return { outboxRows: found.outbox_rows, watermarks: found.watermarks, deadLetters: found.dead_letters, slots: slots.length, stamped, renumbered, lettersRenumbered };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** The error of stores that may not repair (opened with migrate: false) finding foreign ids. */
export function foreignIdsError(found: ForeignIdsRow, t: Tables): HeraldError {
  const what = [
    [found.outbox_rows, 'outbox rows'],
    [found.watermarks, 'outbox slot watermarks'],
    [found.marks, 'outbox watermark moves'],
    [found.dead_letters, 'dead letters'],
  ].filter(([n]) => Number(n) > 0).map(([n, name]) => `${String(n)} ${String(name)}`).join(', ');
  return new HeraldError(
    PgErrors.foreignIds,
    `pgStores: schema ${t.schema} holds transaction ids this PostgreSQL cluster never assigned (at or above its next id, ${found.xmax}): ${what}; the database was copied from another cluster (pg_dump/pg_restore, logical replication). Left as they are, new outbox records would count as published and never be relayed. Run migrate() (or start the app with migrate on), which repairs them; see docs/errors.md#store-foreign-txids`,
    { retriable: false, details: { xmax: found.xmax, outboxRows: found.outbox_rows, watermarks: found.watermarks, marks: found.marks, deadLetters: found.dead_letters } },
  );
}
