import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from '@herald/core';

/**
 * Dead letters in memory, kept in the order they were added. Letters are copied in and out, so a
 * caller cannot change a stored letter except through `setStatus`. Adding an id that is already
 * stored does nothing (the first letter wins).
 */
export function createMemoryDeadLetters(): DeadLetterStore {
  const letters = new Map<string, DeadLetter>();

  const matches = (letter: DeadLetter, filter: DeadLetterFilter): boolean =>
    (filter.group === undefined || letter.group === filter.group) &&
    (filter.handler === undefined || letter.handler === filter.handler) &&
    (filter.key === undefined || letter.key === filter.key) &&
    (filter.status === undefined || letter.status === filter.status) &&
    (filter.ids === undefined || filter.ids.includes(letter.id));

  return {
    async add(letter) {
      if (!letters.has(letter.id)) letters.set(letter.id, structuredClone(letter));
    },
    async list(filter = {}) {
      const limit = filter.limit ?? Infinity;
      const found: DeadLetter[] = [];
      for (const letter of letters.values()) {
        if (found.length >= limit) break;
        if (matches(letter, filter)) found.push(structuredClone(letter));
      }
      return found;
    },
    async isKeyParked(group, topic, key) {
      for (const l of letters.values()) {
        if (l.group === group && l.topic === topic && l.key === key && l.policy === 'park-key' && l.status !== 'redriven') return true;
      }
      return false;
    },
    async setStatus(ids, status) {
      for (const id of ids) {
        const letter = letters.get(id);
        if (letter) letters.set(id, { ...letter, status });
      }
    },
  };
}
