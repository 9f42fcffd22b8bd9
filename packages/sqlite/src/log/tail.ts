import type { Delivery, TopicPartition } from '@herald/core';

/**
 * Records appended to the log through another connection of this process (the relay thread's),
 * handed over once committed: `pids[i]`, `offsets[i]`... describe the i-th record.
 * Plain arrays, so the hand-over is one structured clone.
 */
export interface AppendedRecords {
  readonly pids: readonly number[];
  readonly offsets: readonly number[];
  readonly keys: readonly string[];
  readonly values: readonly string[];
  readonly headers: readonly (Readonly<Record<string, string>> | undefined)[];
  readonly timestamps: readonly number[];
}

/**
 * The newest records of the partitions, in memory, as handed over by the connection that appended
 * them; what a consumer right behind the head would otherwise read back from the file. SQLite
 * keeps a page cache per connection and drops all of it whenever another connection commits, so
 * the app's consumers re-read every page the relay thread just wrote, from the OS, fetch after
 * fetch (measured: ~10 µs per event of the app's thread with small rounds).
 */
export interface Tail {
  /**
   * Keeps records `from` (included) to `to` (excluded) of `records`, all of partition `pid` (`at`)
   * with contiguous offsets, committed, until `readers` reads have delivered the last of them (the
   * groups of this process reading the partition's topic; none: nothing is kept, only the end).
   * Their deliveries are made when read.
   */
  add(pid: number, at: TopicPartition, records: AppendedRecords, from: number, to: number, readers: number): void;
  /**
   * Up to `limit` deliveries from `position` on, with the offset after the newest one handed over,
   * when `position` is kept; else undefined (read the file).
   */
  read(pid: number, position: number, limit: number): { deliveries: Delivery[]; end: number } | undefined;
  /** The offset after the newest record handed over of a partition (kept or already read), if any was. */
  end(pid: number): number | undefined;
  clear(): void;
}

interface Chunk {
  readonly pid: number;
  readonly at: TopicPartition;
  readonly records: AppendedRecords;
  /** Its records (arrays of its own), from offset `first` on. */
  readonly count: number;
  readonly first: number;
  readonly bytes: number;
  /** Reads still to deliver its last record before it goes. */
  readsLeft: number;
  /** Gone from its partition (read, evicted, or its run replaced): its bytes are no longer counted. */
  dropped: boolean;
}

/** A partition's kept chunks, with contiguous offsets, and the offset after the newest handed over. */
interface Run {
  readonly chunks: Chunk[];
  end: number;
}

/**
 * A {@link Tail} holding at most `maxBytes` of keys and values (plus a per-record allowance for
 * the objects) over all partitions: the oldest chunk goes first. Records leave as soon as every
 * local reader had them, so they die young (kept longer, they would be promoted to V8's old
 * generation, whose collections cost the consumers' latency). A partition's chunks continue one
 * another; a chunk that does not continue its run (records another connection appended in between,
 * not handed over) replaces it, so a position is answered from memory only when every offset
 * from it to the run's end is there.
 */
export function createTail(maxBytes: number): Tail {
  const runs = new Map<number, Run>();
  /** Every chunk kept, oldest first (and some gone, skipped when reached). */
  let order: Chunk[] = [];
  let head = 0;
  let bytes = 0;

  function discard(chunk: Chunk): void {
    if (chunk.dropped) return;
    chunk.dropped = true;
    bytes -= chunk.bytes;
  }

  function dropRun(pid: number): void {
    const run = runs.get(pid);
    if (!run) return;
    runs.delete(pid);
    for (const chunk of run.chunks) discard(chunk);
  }

  /** Chunks leave a run from its front (offsets stay contiguous from the first kept to the end). */
  function shiftRead(run: Run): void {
    while (run.chunks.length > 0 && run.chunks[0]!.readsLeft <= 0) discard(run.chunks.shift()!);
  }

  function evict(): void {
    while (bytes > maxBytes && head < order.length) {
      const oldest = order[head++]!;
      if (oldest.dropped) continue;
      discard(oldest);
      // a partition's chunks are in arrival order too: the oldest kept is the run's first
      runs.get(oldest.pid)!.chunks.shift();
    }
    // compact the queue once most of it was passed
    if (head > 1024 && head * 2 > order.length) {
      order = order.slice(head);
      head = 0;
    }
  }

  return {
    add(pid, at, records, from, to, readers) {
      if (to <= from) return;
      const first = records.offsets[from]!;
      let run = runs.get(pid);
      if (!run || run.end !== first) {
        dropRun(pid);
        runs.set(pid, (run = { chunks: [], end: first }));
      }
      if (readers <= 0) {
        // records no one here reads are not kept: the chunks before them would no longer be
        // contiguous with those after, and a read across the gap would skip it
        dropRun(pid);
        runs.set(pid, { chunks: [], end: first + (to - from) });
        return;
      }
      run.end = first + (to - from);
      // a stretch of a larger hand-over keeps its own arrays: the others' records, once read, must
      // not stay reachable through it (they are not counted in the budget)
      const own = from === 0 && to === records.pids.length ? records : sliceRecords(records, from, to);
      let size = 0;
      for (let i = 0; i < to - from; i++) size += own.keys[i]!.length + own.values[i]!.length + RECORD_OVERHEAD;
      const chunk: Chunk = { pid, at, records: own, count: to - from, first, bytes: size, readsLeft: readers, dropped: false };
      run.chunks.push(chunk);
      order.push(chunk);
      bytes += size;
      evict();
    },
    read(pid, position, limit) {
      const run = runs.get(pid);
      if (!run || run.chunks.length === 0 || position < run.chunks[0]!.first || position >= run.end) return undefined;
      const { chunks } = run;
      // consumers read near the end: look for the chunk from there
      let i = chunks.length - 1;
      while (chunks[i]!.first > position) i--;
      const deliveries: Delivery[] = [];
      for (let skip = position - chunks[i]!.first; i < chunks.length && deliveries.length < limit; i++, skip = 0) {
        const chunk = chunks[i]!;
        const { at, records, count } = chunk;
        const take = Math.min(count - skip, limit - deliveries.length);
        for (let k = skip; k < skip + take; k++) {
          deliveries.push({
            topic: at.topic,
            partition: at.partition,
            offset: records.offsets[k]!,
            key: records.keys[k]!,
            value: records.values[k]!,
            headers: keptHeaders(records.headers[k]),
            timestamp: records.timestamps[k]!,
          });
        }
        if (skip + take === count) chunk.readsLeft--;
      }
      const end = run.end;
      shiftRead(run);
      return { deliveries, end };
    },
    end: (pid) => runs.get(pid)?.end,
    clear() {
      for (const pid of [...runs.keys()]) dropRun(pid);
      order = [];
      head = 0;
    },
  };
}

function sliceRecords(records: AppendedRecords, from: number, to: number): AppendedRecords {
  return {
    pids: records.pids.slice(from, to),
    offsets: records.offsets.slice(from, to),
    keys: records.keys.slice(from, to),
    values: records.values.slice(from, to),
    headers: records.headers.slice(from, to),
    timestamps: records.timestamps.slice(from, to),
  };
}

/** What a kept record costs besides its key and value (the delivery object, its strings' headers). */
const RECORD_OVERHEAD = 100;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Headers as a delivery read from the file carries them: frozen, one shared empty object when there are none. */
export function keptHeaders(headers: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  if (headers === undefined) return NO_HEADERS;
  if (Object.isFrozen(headers)) return headers;
  for (const _ in headers) return Object.freeze(headers);
  return NO_HEADERS;
}
