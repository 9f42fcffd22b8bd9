import { CoreErrors, HeraldError, type ClaimOptions, type Clock, type OutboxBacklog, type OutboxRecord, type OutboxStore, type SqlTx } from '@herald/core';
import { toNumber, toOutboxEntry, toOutboxRecord, type OutboxRow } from '@herald/sql';
import type { Db } from '../db.js';
import { runTransaction } from '../transaction.js';
import { deferToCommit, executeInTx, noteAppended, queryInTx } from '../txStatements.js';
import { appendOutbox } from './appendOutbox.js';
import { claimRows, leaseSlots, lockSlots, type PendingRow, type SlotRow } from './claimOutbox.js';
import { countOutboxBacklog, toTopicBacklog, type BacklogRow } from './countOutboxBacklog.js';
import { findOutboxByCorrelation } from './findOutboxByCorrelation.js';
import { createHoldbackWatch } from './holdbackWatch.js';
import { advanceWatermarks, locateRecords, lockWatermarks, markOutOfOrder, positionsBetween } from './markOutboxPublished.js';
import { releaseOutboxClaim } from './releaseOutboxClaim.js';

/** A position in a slot: the appending transaction, then the append order. */
interface Position {
  readonly txid: bigint;
  readonly seq: bigint;
}

interface Claimed {
  /** Per slot, the newest position this relay claimed there (its lease ends once published). */
  readonly upTo: Map<number, Position>;
  /** Where each claimed record is, by id. */
  readonly where: Map<string, { slot: number; position: Position }>;
}

const noop = () => {};

/**
 * The outbox on PostgreSQL, by slot (see migration 7): rows are appended with one multi-row insert
 * just before COMMIT; a relay's claim leases slots and returns the oldest rows above their
 * watermarks (only of transactions older than every running one, so nothing can commit below a
 * watermark later); publishing moves the watermarks and records when. No outbox row is updated on
 * the way. The backlog reads committed rows only; retention is src/retention.ts's. A claim that
 * takes nothing may warn that a long transaction holds records back (see holdbackWatch.ts).
 */
export function pgOutboxStore(db: Db, clock: Clock): OutboxStore<SqlTx> & OutboxBacklog {
  const t = db.t;
  const claims = new Map<string, Claimed>();
  const holdback = createHoldbackWatch(db, clock);

  async function claim(options: ClaimOptions): Promise<OutboxRecord[]> {
    const { relayId, limit } = options;
    return runTransaction(db, noop, async (tx) => {
      const { rows: slots } = await queryInTx(tx, 'claim outbox (slots)', lockSlots(t));
      const now = toNumber((slots[0] as SlotRow | undefined)?.now ?? 0);
      const xmin = (slots[0] as SlotRow | undefined)?.xmin ?? '0';
      const open = (slots as SlotRow[]).filter((s) => !(s.relay_id !== null && s.relay_id !== relayId && toNumber(s.lease_expires_at!) > now));
      const mine = (slots as SlotRow[]).filter((s) => s.relay_id === relayId).map((s) => s.slot);
      const watermarks = open.map((s) => ({ slot: s.slot, txid: s.published_txid, seq: String(s.published_seq) }));
      const { rows } = open.length ? await queryInTx(tx, 'claim outbox', claimRows(t, { slots: watermarks, xmin, limit, skipKeys: options.skipKeys })) : { rows: [] };
      const records = (rows as PendingRow[])
        .map((row) => ({ row, position: { txid: BigInt(row.txid), seq: BigInt(row.seq) } }))
        .sort((a, b) => byPosition(a.position, b.position));
      const cut = new Map<number, Position>();
      for (const { row, position } of records) cut.set(row.slot, position);
      const taken = [...cut.keys()];
      await queryInTx(tx, 'claim outbox (lease)', leaseSlots(t, { relayId, leaseMs: options.leaseMs, taken, dropped: mine.filter((s) => !cut.has(s)) }));
      if (taken.length === 0) {
        claims.delete(relayId);
        return [];
      }
      claims.set(relayId, { upTo: cut, where: new Map(records.map(({ row, position }) => [row.id, { slot: row.slot, position }])) });
      return records.map(({ row }) => toOutboxRecord(row));
    });
  }

  async function markPublished(relayId: string, ids: readonly string[]): Promise<void> {
    const claimed = claims.get(relayId);
    await runTransaction(db, noop, async (tx) => {
      // where the records are: from this relay's claim, else from the table
      const located = new Map<string, { slot: number; position: Position }>();
      const unknown: string[] = [];
      for (const id of ids) {
        const known = claimed?.where.get(id);
        if (known) located.set(id, known);
        else unknown.push(id);
      }
      if (unknown.length > 0) {
        const { rows } = await queryInTx(tx, 'mark outbox (locate)', locateRecords(t, unknown));
        for (const row of rows as { id: string; slot: number; txid: string; seq: string | number }[]) {
          located.set(row.id, { slot: row.slot, position: { txid: BigInt(row.txid), seq: BigInt(row.seq) } });
        }
      }
      const bySlot = new Map<number, Position[]>();
      for (const { slot, position } of located.values()) (bySlot.get(slot) ?? bySlot.set(slot, []).get(slot)!).push(position);
      if (bySlot.size === 0) return;
      const { rows: marks } = await queryInTx(tx, 'mark outbox (watermarks)', lockWatermarks(t, [...bySlot.keys()]));
      const from = new Map((marks as { slot: number; published_txid: string; published_seq: string | number }[]).map((m) => [m.slot, { txid: BigInt(m.published_txid), seq: BigInt(m.published_seq) }]));
      // only an unbroken run from the watermark is published: a gap would mark a record nobody sent
      const ranges = [...bySlot].filter(([slot]) => from.has(slot)).map(([slot, positions]) => {
        const top = positions.reduce((a, b) => (byPosition(a, b) >= 0 ? a : b));
        const low = from.get(slot)!;
        return { slot, fromTxid: String(low.txid), fromSeq: String(low.seq), toTxid: String(top.txid), toSeq: String(top.seq) };
      });
      if (ranges.length === 0) return;
      const { rows: between } = await queryInTx(tx, 'mark outbox (check)', positionsBetween(t, ranges));
      const marked = new Map([...bySlot].map(([slot, positions]) => [slot, new Set(positions.map(positionKey))]));
      const upTo = new Map<number, Position>();
      const broken = new Set<number>();
      // the unpublished positions only: one not being marked now is the gap
      for (const row of between as { slot: number; txid: string; seq: string | number }[]) {
        if (broken.has(row.slot)) continue;
        const position = { txid: BigInt(row.txid), seq: BigInt(row.seq) };
        if (marked.get(row.slot)!.has(positionKey(position))) upTo.set(row.slot, position);
        else broken.add(row.slot);
      }
      // past a gap, a marked record is published on its own: the watermark passes it later
      const beyond = [...located].filter(([, { slot, position }]) => {
        const top = upTo.get(slot);
        return top === undefined || byPosition(position, top) > 0;
      });
      if (beyond.length > 0) await queryInTx(tx, 'mark outbox (out of order)', markOutOfOrder(t, beyond.map(([id]) => id)));
      if (upTo.size === 0) return;
      const release = [...upTo].filter(([slot, position]) => {
        const mine = claimed?.upTo.get(slot);
        return mine !== undefined && byPosition(mine, position) <= 0;
      }).map(([slot]) => slot);
      const moves = [...upTo].map(([slot, position]) => ({ slot, txid: String(position.txid), seq: String(position.seq) }));
      await queryInTx(tx, 'mark outbox published', advanceWatermarks(t, { relayId, moves, release }));
      for (const slot of release) claimed?.upTo.delete(slot);
    });
  }

  return {
    async append(tx, records: readonly OutboxRecord[]) {
      if (records.length === 0) return;
      // one multi-row insert just before COMMIT for everything the transaction appends (a batch of
      // application transactions sharing one appends once, not once per publish); seq follows the
      // order of the appends
      if (!deferToCommit(tx, 'outbox', 'append outbox', records, (all) => appendOutbox(t, all))) {
        await executeInTx(tx, 'append outbox', appendOutbox(t, records));
      }
      noteAppended(tx);
    },
    async claim(options: ClaimOptions) {
      if (!(Number.isInteger(options.limit) && options.limit > 0)) invalid(`claim limit must be a positive integer, got ${options.limit}`);
      if (!(options.leaseMs > 0)) invalid(`claim leaseMs must be positive, got ${options.leaseMs}`);
      if (!options.relayId) invalid('claim needs a relayId');
      const records = await claim(options);
      if (records.length === 0) await holdback.afterEmptyClaim();
      return records;
    },
    markPublished(relayId, ids) {
      return ids.length === 0 ? Promise.resolve() : markPublished(relayId, ids);
    },
    async release(relayId, ids) {
      if (ids.length === 0) return;
      await db.run('release outbox claim', releaseOutboxClaim(t, relayId, ids));
      const claimed = claims.get(relayId);
      for (const id of ids) {
        const where = claimed?.where.get(id);
        if (where) claimed!.upTo.delete(where.slot);
      }
    },
    async findByCorrelation(correlationId) {
      const { rows } = await db.run<OutboxRow>('find outbox by correlation', findOutboxByCorrelation(t, correlationId));
      return rows.map(toOutboxEntry);
    },
    async backlog() {
      const { rows } = await db.run<BacklogRow>('outbox backlog', countOutboxBacklog(t));
      return rows.map(toTopicBacklog);
    },
  };
}

function byPosition(a: Position, b: Position): number {
  if (a.txid !== b.txid) return a.txid < b.txid ? -1 : 1;
  return a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1;
}

const positionKey = (p: Position) => `${p.txid}:${p.seq}`;

function invalid(message: string): never {
  throw new HeraldError(CoreErrors.invalidOptions, `pgStores: ${message}`);
}
