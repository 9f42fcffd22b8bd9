import type Database from 'better-sqlite3';
import { CoreErrors, HeraldError, type Delivery, type DeliveryBatch, type OutgoingRecord } from '@herald/core';
import { headersText, parseHeaders } from '@herald/sql';
import { logReads } from '../internal/storeErrors.js';
import type { TopicRegistry } from './topics.js';
import type { WriteOp } from './writeQueue.js';

/** Appending and reading records: the log's hot path. */
export interface RecordAccess {
  /** An operation appending `records` (in array order) at the heads of their partitions; returns where each went. */
  append(records: readonly OutgoingRecord[]): WriteOp<Placed>;
  /** Up to `limit` records of a partition from `position` on, with the partition's head. */
  read(pid: number, position: number, limit: number): FetchedBatch;
  /** The partition's head (next offset), as committed. */
  head(pid: number): number;
  /** The partition's first retained offset. */
  start(pid: number): number;
  /**
   * The first offset whose timestamp is at or after `timestamp`, if any. Scans the partition from
   * its start (there is no time index: replays are rare and the scan stops at the first match).
   */
  firstAtOrAfter(pid: number, timestamp: number): number | undefined;
}

/** A batch read for a consumer; `atHead`: empty, and known to be at the partition's head without reading the file. */
export interface FetchedBatch extends DeliveryBatch {
  readonly atHead?: boolean;
}

/** Where the records of an append went: the i-th record's partition id, offset and timestamp. */
export interface Placed {
  readonly pids: number[];
  readonly offsets: number[];
  readonly timestamps: number[];
}

type RecordRow = [position: number, key: string, value: string, headers: string | null, timestamp: number];

const READ = 'log: reading records';

/**
 * Reads run outside the write queue's transactions (a consumer's fetch, `read`), so SQLite's
 * failures are mapped here, as the queue maps its own (see `logReads`).
 */
export function createRecordAccess(db: Database.Database, topics: TopicRegistry): RecordAccess {
  const insert = db.prepare('INSERT INTO herald_records (pid, position, key, value, headers, timestamp, size) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const select = logReads.guard(
    db.prepare<[number, number, number], RecordRow>('SELECT position, key, value, headers, timestamp FROM herald_records WHERE pid = ? AND position >= ? ORDER BY position LIMIT ?').raw(true),
    READ,
  );
  const headStmt = logReads.guard(db.prepare<[number], number>('SELECT next_offset FROM herald_partitions WHERE pid = ?').pluck(), READ);
  const startStmt = logReads.guard(db.prepare<[number], number>('SELECT start_offset FROM herald_partitions WHERE pid = ?').pluck(), READ);
  // only in write operations (a group's start position), which the write queue's mapping covers
  const byTime = db
    .prepare<[number, number], number>('SELECT position FROM herald_records WHERE pid = ? AND timestamp >= ? ORDER BY position LIMIT 1')
    .pluck();

  const head = (pid: number): number => headStmt.get(pid) ?? 0;

  return {
    append(records) {
      for (const record of records) check(record);
      return (ctx) => {
        const placed: Placed = { pids: new Array<number>(records.length), offsets: new Array<number>(records.length), timestamps: new Array<number>(records.length) };
        for (let i = 0; i < records.length; i++) {
          const record = records[i]!;
          const topic = topics.resolve(record.topic, ctx.now);
          const pid = topic.pids[topic.partitionOf(record.key)]!;
          const size = record.key.length + record.value.length;
          const offset = ctx.reserve(pid, size);
          const timestamp = record.timestamp ?? ctx.now;
          insert.run(pid, offset, record.key, record.value, headersText(record.headers), timestamp, size);
          placed.pids[i] = pid;
          placed.offsets[i] = offset;
          placed.timestamps[i] = timestamp;
        }
        return placed;
      };
    },
    read(pid, position, limit) {
      const where = topics.locate(pid)!;
      const rows = select.all(pid, position, limit);
      const deliveries: Delivery[] = new Array<Delivery>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const [offset, key, value, headers, timestamp] = rows[i]!;
        deliveries[i] = {
          topic: where.topic,
          partition: where.partition,
          offset,
          key,
          value,
          headers: parseHeaders(headers),
          timestamp,
        };
      }
      return { topic: where.topic, partition: where.partition, deliveries, highWatermark: rows.length > 0 ? head(pid) : position };
    },
    head,
    start: (pid) => startStmt.get(pid) ?? 0,
    firstAtOrAfter: (pid, timestamp) => byTime.get(pid, timestamp),
  };
}

function check(record: OutgoingRecord): void {
  if (typeof record.key !== 'string' || typeof record.value !== 'string' || typeof record.topic !== 'string') {
    throw new HeraldError(CoreErrors.invalidOptions, 'log: a record needs string topic, key and value');
  }
  if (record.timestamp !== undefined && !Number.isFinite(record.timestamp)) {
    throw new HeraldError(CoreErrors.invalidOptions, `log: record timestamp must be a finite number, got ${String(record.timestamp)}`);
  }
}
