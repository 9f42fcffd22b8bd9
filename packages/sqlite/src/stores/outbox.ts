import type Database from 'better-sqlite3';
import type { Clock, OutboxBacklog, OutboxClaims, OutboxRecord, OutboxStore, SqlTx, TopicBacklog } from '@herald/core';
import { OUTBOX_RECORD_COLUMNS, OUTBOX_RECORD_WIDTH, parseHeaders, toOutboxEntry, writeOutboxValues, type OutboxRow } from '@herald/sql';
import { storeReads } from '../internal/storeErrors.js';
import { OUTBOX_SLOTS, outboxSlot } from './slots.js';
import { inStatements, multiRowStatements } from './multiRow.js';
import type { TxRunner, TxScope } from './txRunner.js';

export interface StoreDeps {
  readonly writer: Database.Database;
  readonly reader: Database.Database;
  readonly runner: TxRunner;
  readonly scopeOf: (tx: SqlTx) => Promise<TxScope>;
  readonly clock: Clock;
  /** Resolves once what was read is on disk: the fsyncs under way, or one more when another connection committed (see `readDurability`). */
  readonly flushed: () => Promise<void>;
}

export interface SlotRow {
  slot: number;
  published_seq: number;
  relay_id: string | null;
  lease_expires_at: number | null;
}

/** The outbox record's columns of `herald_outbox o`. */
const OUTBOX_RECORD_COLUMNS_OF_O = OUTBOX_RECORD_COLUMNS.split(', ').map((c) => `o.${c}`).join(', ');

/** A raw row of the claim's scan: seq, slot, then the columns of OUTBOX_RECORD_COLUMNS in order. */
type ScanRow = [seq: number, slot: number, id: string, topic: string, key: string, type: string, correlationId: string, value: string, headers: string | null, createdAt: number];

/** Rows read per page of a claim's scan, and how far past `limit` rows it looks (rows of slots leased elsewhere). */
const PAGE = 1000;
const SCAN_SLACK = 1000;
const CLAIM = 'outbox: claim';

/**
 * A claim's decision about slots, read on the read connection before any lock is taken. Plain data:
 * it crosses to the thread that owns the writer when the relay runs in its own thread.
 */
export interface SlotTake {
  readonly relayId: string;
  readonly leaseMs: number;
  readonly now: number;
  /** `[slot, watermark]` of every slot open to this relay when the plan was read. */
  readonly watermark: readonly (readonly [number, number])[];
  /** `[slot, newest seq planned]` of every slot the plan takes rows from. */
  readonly newest: readonly (readonly [number, number])[];
  /** The last position the scan saw: no pending row of an open slot up to here was left out. */
  readonly scannedTo: number;
  /** Slots of the keys the claim skipped: their skipped rows are pending, so their watermarks never catch up. */
  readonly held: readonly number[];
}

/**
 * The writes of claims, marks and releases: a few slot rows each, run on the stores' writer in the
 * process's group commits. The relay thread has them run by the app's thread, which owns the
 * writer: SQLite has one writer per file, and a second connection would wait out the app's
 * transactions in SQLite's busy handler, sleeping milliseconds at a time.
 */
export interface SlotWrites {
  /** Leases the planned slots that nothing changed since the plan and returns them, once what the plan read is on disk. */
  take(take: SlotTake): Promise<readonly number[]>;
  /** Moves the watermarks of slots a relay claimed up to `[slot, seq]`: a mark of exactly what it claimed there. */
  advance(relayId: string, tops: readonly (readonly [number, number])[]): Promise<void>;
  /** Marks any records published, by id. */
  markIds(relayId: string, ids: readonly string[]): Promise<void>;
  /** Ends the relay's leases on the slots of these records. */
  release(relayId: string, ids: readonly string[]): Promise<void>;
}

/**
 * The outbox on SQLite, by slot. Every record goes to the slot of its key ({@link outboxSlot}),
 * in append order (`seq`). A relay's claim leases the slots it takes records from (a slot another
 * relay leases is left alone until that lease ends or lapses) and returns, oldest first, the
 * records above each slot's watermark — so one key's records go to one relay at a time, in order.
 * Publishing moves the slot's watermark up over the records published (as far as they form an
 * unbroken run from it: nothing is ever marked that was not published), records when it moved,
 * and ends the relay's lease once everything it claimed in the slot is published. No row is
 * updated on the way: a claim and a mark write a few slot rows, whatever the batch size.
 * Published records are kept (for workflow views) until the retention sweep removes them. SQLite's
 * failures of the reads on the read connection are the stores' errors naming the method and the file.
 */
export function createOutboxStore(deps: StoreDeps, writes: SlotWrites): OutboxStore<SqlTx> & OutboxBacklog {
  const { writer, reader, scopeOf } = deps;
  const s = {
    insert: multiRowStatements(writer, (values) => `INSERT INTO herald_outbox (${OUTBOX_RECORD_COLUMNS}, slot) VALUES ${values} ON CONFLICT (id) DO NOTHING`, '(?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    byCorrelation: storeReads.guard(
      reader.prepare<[string], OutboxRow & { seq: number; slot: number }>(
        `SELECT o.seq, o.slot, ${OUTBOX_RECORD_COLUMNS_OF_O},
           coalesce(o.published_at, (SELECT m.published_at FROM herald_outbox_marks m WHERE m.slot = o.slot AND m.up_to_seq >= o.seq ORDER BY m.up_to_seq LIMIT 1)) AS published_at
         FROM herald_outbox o WHERE o.correlation_id = ? ORDER BY o.seq`,
      ),
      'outbox: findByCorrelation',
    ),
    // a rowid range scan from the lowest watermark: only the rows above it are read
    backlog: storeReads.guard(
      reader.prepare<[], { topic: string; pending: number; oldest_created_at: number }>(
        `SELECT o.topic, count(*) AS pending, min(o.created_at) AS oldest_created_at
         FROM herald_outbox o CROSS JOIN herald_outbox_slots s ON s.slot = o.slot
         WHERE o.seq > (SELECT min(published_seq) FROM herald_outbox_slots) AND o.seq > s.published_seq AND o.published_at IS NULL
         GROUP BY o.topic ORDER BY o.topic`,
      ),
      'outbox: backlog',
    ),
  };
  return {
    ...createOutboxClaims(reader, deps.clock, writes),
    async append(tx, records) {
      const scope = await scopeOf(tx);
      // in statements of up to ROWS_PER_STATEMENT rows: a call of publish.many is one statement per 50 records
      inStatements(
        records,
        OUTBOX_RECORD_WIDTH + 1,
        (record, args, at) => {
          writeOutboxValues(record, args, at);
          args[at + OUTBOX_RECORD_WIDTH] = outboxSlot(record.key);
        },
        (rows, args) => scope.run(s.insert(rows), args),
      );
      if (records.length > 0) scope.appended = true;
    },
    async findByCorrelation(correlationId) {
      return s.byCorrelation.all(correlationId).map(toOutboxEntry);
    },
    async backlog() {
      return s.backlog.all().map((row): TopicBacklog => ({ topic: row.topic, pending: row.pending, oldestCreatedAt: row.oldest_created_at }));
    },
  };
}

/**
 * The relay's side of the outbox: a claim is planned on the read connection (committed rows only,
 * no lock held) and taken through `writes`; the records are built from the rows the plan read.
 * Also what the relay thread runs, on its own read connection, with the app's thread's writes.
 * SQLite's failures of the plan's reads are the stores' errors (`outbox: claim`, naming the file).
 */
export function createOutboxClaims(reader: Database.Database, clock: Clock, writes: SlotWrites): OutboxClaims {
  const s = {
    readSlots: storeReads.guard(reader.prepare<[], SlotRow>('SELECT slot, published_seq, relay_id, lease_expires_at FROM herald_outbox_slots ORDER BY slot'), CLAIM),
    // the end of the outbox: a scan that reaches its end has looked at every row up to here
    end: storeReads.guard(reader.prepare<[], { end: number | null }>('SELECT max(seq) AS end FROM herald_outbox'), CLAIM),
    // the pending rows in append order from the lowest open watermark (a rowid range scan), each
    // above its own slot's watermark: SQLite steps over the rows the fast path marked published
    // (their published_at stays null) without handing them to JavaScript or counting them in the
    // depth, however many lie above a watermark held back by a refused record (CROSS JOIN keeps the
    // outbox the outer loop, in rowid order, whatever statistics say). Raw rows (arrays): a claim
    // reads thousands, and arrays cost less to build than objects
    scan: storeReads.guard(
      reader
        .prepare<[number, number], ScanRow>(
          `SELECT o.seq, o.slot, ${OUTBOX_RECORD_COLUMNS_OF_O} FROM herald_outbox o CROSS JOIN herald_outbox_slots s ON s.slot = o.slot
           WHERE o.seq > ? AND o.seq > s.published_seq AND o.published_at IS NULL ORDER BY o.seq LIMIT ?`,
        )
        .raw(true),
      CLAIM,
    ),
    // the same, leaving out the keys in a JSON array: SQLite steps over their rows too
    scanSkipping: storeReads.guard(
      reader
        .prepare<[number, string, number], ScanRow>(
          `SELECT o.seq, o.slot, ${OUTBOX_RECORD_COLUMNS_OF_O} FROM herald_outbox o CROSS JOIN herald_outbox_slots s ON s.slot = o.slot
           WHERE o.seq > ? AND o.seq > s.published_seq AND o.published_at IS NULL AND o.key NOT IN (SELECT value FROM json_each(?)) ORDER BY o.seq LIMIT ?`,
        )
        .raw(true),
      CLAIM,
    ),
  };
  /**
   * Per relay, its last claim: where each record is, and how many it took per slot. A mark of
   * exactly those records (what a relay does) moves the watermarks without a lookup.
   */
  const lastClaim = new Map<string, { readonly where: Map<string, { slot: number; seq: number }>; readonly perSlot: Map<number, number> }>();

  /**
   * Reads the oldest pending rows of the slots no other relay leases, in append order from the
   * lowest open watermark: each open slot's share is a prefix of its pending rows; a slot leased
   * elsewhere keeps all of its rows, so its keys stay in order. Rows of `skipKeys` are left out: the
   * share of their slots has gaps, which the mark handles (see `markRows` in slotWrites.ts).
   */
  function plan(relayId: string, options: { limit: number; leaseMs: number; skipKeys: readonly string[] }): { take: SlotTake; rows: readonly ScanRow[]; holds: boolean; catchesUp: boolean } {
    const { limit, leaseMs, skipKeys } = options;
    const skipping = skipKeys.length > 0 ? JSON.stringify(skipKeys) : undefined;
    const readPage = (after: number) => (skipping === undefined ? s.scan.all(after, PAGE) : s.scanSkipping.all(after, skipping, PAGE));
    const now = clock.now();
    const watermark = new Map<number, number>();
    let holds = false;
    for (const slot of s.readSlots.all()) {
      if (slot.relay_id === relayId) holds = true;
      const leasedElsewhere = slot.relay_id !== null && slot.relay_id !== relayId && slot.lease_expires_at! > now;
      if (!leasedElsewhere) watermark.set(slot.slot, slot.published_seq);
    }
    const rows: ScanRow[] = [];
    let scannedTo = 0;
    const newest = new Map<number, number>();
    const held = [...new Set(skipKeys.map(outboxSlot))];
    let catchesUp = false;
    if (watermark.size > 0) {
      const depth = limit * 4 + SCAN_SLACK;
      // read before the scan: every row up to it is committed (one writer), so the scan sees them all
      const end = s.end.get()?.end ?? 0;
      let after = Math.min(...watermark.values());
      scan: for (let scanned = 0; scanned < depth; ) {
        const page = readPage(after);
        for (const row of page) {
          scannedTo = row[0];
          const from = watermark.get(row[1]);
          if (from !== undefined && row[0] > from) {
            rows.push(row);
            newest.set(row[1], row[0]);
            if (rows.length >= limit) break scan;
          }
        }
        scanned += page.length;
        if (page.length < PAGE) {
          // the end of the outbox as committed when read: the rows the scan stepped over up to `end`
          // were looked at too (published ones), so the open slots may catch up that far
          scannedTo = Math.max(scannedTo, end);
          break;
        }
        after = page[page.length - 1]![0];
      }
      // an open slot with nothing in this claim and its watermark below the scanned stretch catches
      // up (see `SlotWrites.take`); an idle claim with none to catch up asks the writer for nothing
      for (const [slot, from] of watermark) if (from < scannedTo && !newest.has(slot) && !held.includes(slot)) catchesUp = true;
    }
    return { take: { relayId, leaseMs, now, watermark: [...watermark], newest: [...newest], scannedTo, held }, rows, holds, catchesUp };
  }

  return {
    async claim({ relayId, limit, leaseMs, skipKeys = [] }) {
      const planned = plan(relayId, { limit, leaseMs, skipKeys });
      // nothing pending, no lease of its own to end: the take would write nothing (an idle relay's
      // rounds then cost the writer nothing, and the relay thread no round trip to the app's thread)
      if (planned.rows.length === 0 && !planned.catchesUp && !planned.holds) {
        lastClaim.delete(relayId);
        return [];
      }
      const kept = new Set(await writes.take(planned.take));
      // a held slot's share has gaps (the skipped rows): its mark must not take the fast path, which
      // moves the watermark over everything up to the newest record claimed
      const gapped = new Set(planned.take.held);
      const where = new Map<string, { slot: number; seq: number }>();
      const perSlot = new Map<number, number>();
      const records: OutboxRecord[] = [];
      for (const [seq, slot, id, topic, key, type, correlationId, value, headers, createdAt] of planned.rows) {
        if (!kept.has(slot)) continue;
        if (!gapped.has(slot)) where.set(id, { slot, seq });
        perSlot.set(slot, (perSlot.get(slot) ?? 0) + 1);
        records.push({ id, topic, key, type, correlationId, value, headers: parseHeaders(headers), createdAt });
      }
      lastClaim.set(relayId, { where, perSlot });
      return records;
    },
    markPublished(relayId, ids) {
      if (ids.length === 0) return Promise.resolve();
      const tops = claimedTops(lastClaim.get(relayId), ids);
      lastClaim.delete(relayId);
      return tops ? writes.advance(relayId, tops) : writes.markIds(relayId, ids);
    },
    release(relayId, ids) {
      if (ids.length === 0) return Promise.resolve();
      lastClaim.delete(relayId);
      return writes.release(relayId, ids);
    },
  };
}

/** `[slot, newest seq]` per slot when `ids` are exactly what the claim took in some slots; else undefined. */
function claimedTops(
  claim: { readonly where: ReadonlyMap<string, { slot: number; seq: number }>; readonly perSlot: ReadonlyMap<number, number> } | undefined,
  ids: readonly string[],
): [number, number][] | undefined {
  if (!claim) return undefined;
  const marked = new Map<number, { count: number; top: number }>();
  for (const id of ids) {
    const at = claim.where.get(id);
    if (!at) return undefined;
    const entry = marked.get(at.slot) ?? { count: 0, top: 0 };
    entry.count++;
    entry.top = Math.max(entry.top, at.seq);
    marked.set(at.slot, entry);
  }
  for (const [slot, { count }] of marked) if (count !== claim.perSlot.get(slot)) return undefined;
  return [...marked].map(([slot, { top }]) => [slot, top]);
}

export { OUTBOX_SLOTS };
