import type { Notifier } from './notifier.js';
import type { RecordAccess } from './records.js';
import { createTail, type AppendedRecords } from './tail.js';
import type { TopicRegistry } from './topics.js';

/** An append of another connection of this process, committed: see {@link HandOver.adopt}. */
export interface Appended {
  /** `[partition id, head]` of each partition it moved. */
  readonly heads: readonly (readonly [number, number])[];
  /** The records, when handed over (see `Tail`). */
  readonly records?: AppendedRecords;
}

/** How a log handle takes the relay thread's appends for its consumers. */
export interface HandOver {
  /** The consumers' reads: what was handed over from memory, the rest from the file. */
  readonly records: RecordAccess;
  /**
   * The relay thread committed records: the heads it moved (waits there end at once, no poll
   * needed) and, for small rounds, the records themselves, kept for the consumers.
   */
  adopt(appended: Appended): void;
  clear(): void;
}

/**
 * At most this much (keys and values, plus a per-record allowance) of the records the relay thread
 * handed over waits in memory for this handle's consumers (see `createTail`). A record leaves once
 * each subscription reading its topic delivered it; the bound is for those that fall behind (or
 * own none of its partition), which then read from the file.
 */
const TAIL_BYTES = 8 * 1024 * 1024;

export function createHandOver(deps: {
  readonly records: RecordAccess;
  readonly topics: TopicRegistry;
  readonly notifier: Notifier;
  /** How many subscriptions of this handle read `topic`: the reads a handed-over record waits for. */
  readonly readers: (topic: string) => number;
}): HandOver {
  const { records, topics, notifier } = deps;
  const tail = createTail(TAIL_BYTES);
  /**
   * Where a handed-over partition is, or undefined when the topics cannot be read: its records are
   * then not kept, and its consumers read them from the file, whose reads report the failure (thrown
   * here, in the relay thread's message listener, it would end the process).
   */
  const locate = (pid: number) => {
    try {
      return topics.locate(pid);
    } catch {
      return undefined;
    }
  };
  return {
    records: {
      ...records,
      read(pid, position, limit) {
        const kept = tail.read(pid, position, limit);
        // right after the last record handed over, with no newer head heard of: nothing to read yet
        // (a commit of another connection is heard of by the notifier's poll, which wakes the wait)
        const atHead = !kept && position === tail.end(pid) && notifier.head(pid) <= position;
        const at = (kept || atHead) && topics.locate(pid);
        if (!at) return records.read(pid, position, limit);
        if (kept) return { topic: at.topic, partition: at.partition, deliveries: kept.deliveries, highWatermark: kept.end };
        return { topic: at.topic, partition: at.partition, deliveries: [], highWatermark: position, atHead: true };
      },
    },
    adopt({ heads, records: handed }) {
      if (handed) {
        const { pids, offsets } = handed;
        for (let i = 0; i < pids.length; ) {
          const pid = pids[i]!;
          let j = i + 1;
          while (j < pids.length && pids[j] === pid && offsets[j] === offsets[i]! + (j - i)) j++;
          const at = locate(pid);
          if (at) tail.add(pid, at, handed, i, j, deps.readers(at.topic));
          i = j;
        }
      }
      notifier.published(new Map(heads));
    },
    clear: () => tail.clear(),
  };
}
