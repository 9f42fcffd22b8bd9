import type { DeadLetter, DeadLetterBrowser, DeadLetterFilter, DeadLetterQuery, DeadLetterStatus, DeadLetterStore } from '@herald/core';
import { decodeCursor, encodeCursor, groupLetters, letterMatcher, pageLimit } from './memoryDeadLetterQuery.js';

/** The memory dead letter store, with the browser ability. */
export type MemoryDeadLetters = DeadLetterStore & DeadLetterBrowser;

interface Stored {
  letter: DeadLetter;
  /** Position in the order letters were added: what cursors point at. */
  readonly seq: number;
}

/**
 * Dead letters in memory, kept in the order they were added. Letters are copied in and out, so a
 * caller cannot change a stored letter except through `setStatus` and `discard`. Adding an id that
 * is already stored, or a letter for a record that has an open one in its group, adds nothing and
 * resolves with the letter kept (see `DeadLetterStore.add`); `setStatus` does not reopen a letter
 * whose record has an open one (see `DeadLetterStore.setStatus`). Cursors are `memory-dl-<position>`.
 */
export function createMemoryDeadLetters(): MemoryDeadLetters {
  const letters = new Map<string, Stored>();
  let added = 0;

  const matches = (letter: DeadLetter, filter: DeadLetterFilter): boolean =>
    (filter.group === undefined || letter.group === filter.group) &&
    (filter.handler === undefined || letter.handler === filter.handler) &&
    (filter.key === undefined || letter.key === filter.key) &&
    (filter.status === undefined || letter.status === filter.status) &&
    (filter.ids === undefined || filter.ids.includes(letter.id));

  /** The open letter of `letter`'s record in its group, if any (a scan: memory stores hold few letters). */
  const openLetterOf = (letter: DeadLetter): DeadLetter | undefined => {
    for (const { letter: l } of letters.values()) {
      if (isOpen(l.status) && sameRecord(l, letter)) return l;
    }
    return undefined;
  };

  function* matching(query: DeadLetterQuery): Generator<Stored> {
    const match = letterMatcher(query);
    for (const stored of letters.values()) if (match(stored.letter)) yield stored;
  }

  return {
    async add(letter) {
      const kept = letters.get(letter.id)?.letter ?? openLetterOf(letter);
      if (kept) return structuredClone(kept);
      letters.set(letter.id, { letter: structuredClone(letter), seq: ++added });
      return undefined;
    },
    async list(filter = {}) {
      const limit = filter.limit ?? Infinity;
      const found: DeadLetter[] = [];
      for (const { letter } of letters.values()) {
        if (found.length >= limit) break;
        if (matches(letter, filter)) found.push(structuredClone(letter));
      }
      return found;
    },
    async isKeyParked(group, topic, key) {
      for (const { letter: l } of letters.values()) {
        if (l.group === group && l.topic === topic && l.key === key && l.policy === 'park-key' && (l.status === 'dead' || l.status === 'parked')) return true;
      }
      return false;
    },
    async setStatus(ids, status) {
      const left: string[] = [];
      const wanted = new Set(ids);
      // in the order they were added: of two resolved letters of one record, the older is reopened
      for (const stored of letters.values()) {
        if (!wanted.has(stored.letter.id)) continue;
        if (isOpen(status) && !isOpen(stored.letter.status) && openLetterOf(stored.letter)) left.push(stored.letter.id);
        else stored.letter = { ...stored.letter, status };
      }
      return left;
    },
    async page(request = {}) {
      const limit = pageLimit(request.limit);
      const after = request.cursor === undefined ? 0 : decodeCursor(request.cursor);
      const found: Stored[] = [];
      for (const stored of matching(request)) {
        if (stored.seq <= after) continue;
        found.push(stored);
        if (found.length > limit) break;
      }
      const shown = found.slice(0, limit);
      return { letters: shown.map((s) => structuredClone(s.letter)), next: found.length > limit ? encodeCursor(shown[shown.length - 1]!.seq) : null };
    },
    async count(query = {}) {
      let n = 0;
      for (const _ of matching(query)) n++;
      return n;
    },
    async groups(query = {}) {
      return groupLetters([...matching(query)].map((s) => s.letter));
    },
    async discard(ids) {
      let changed = 0;
      for (const id of new Set(ids)) {
        const stored = letters.get(id);
        if (!stored || (stored.letter.status !== 'dead' && stored.letter.status !== 'parked')) continue;
        stored.letter = { ...stored.letter, status: 'discarded' };
        changed++;
      }
      return changed;
    },
  };
}

/** Whether a letter of this status is open: waiting for someone to act, one per record. */
function isOpen(status: DeadLetterStatus): boolean {
  return status === 'dead' || status === 'parked';
}

/** Whether two letters are of one record in one group: its topic, partition and offset, and the event read there. */
function sameRecord(a: DeadLetter, b: DeadLetter): boolean {
  return a.group === b.group && a.topic === b.topic && a.partition === b.partition && a.offset === b.offset && a.eventId === b.eventId;
}
