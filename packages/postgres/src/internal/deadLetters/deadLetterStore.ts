import type { Clock, DeadLetterStore } from '@herald/core';
import { toDeadLetter, type DeadLetterRow } from '@herald/sql';
import type { Db } from '../db.js';
import { addDeadLetter } from './addDeadLetter.js';
import { isKeyParked } from './isKeyParked.js';
import { listDeadLetters } from './listDeadLetters.js';
import { setDeadLetterStatus } from './setDeadLetterStatus.js';

/**
 * Dead letters on PostgreSQL; each method is one statement, its own transaction. `clock` stamps when
 * a letter was resolved, which is what its retention counts from.
 */
export function pgDeadLetterStore(db: Db, clock: Clock): DeadLetterStore {
  return {
    async add(letter) {
      await db.run('add dead letter', addDeadLetter(db.t, { letter, now: clock.now() }));
    },
    async list(filter) {
      const { rows } = await db.run<DeadLetterRow>('list dead letters', listDeadLetters(db.t, filter));
      return rows.map(toDeadLetter);
    },
    async isKeyParked(group, topic, key) {
      const { rows } = await db.run<{ parked: boolean }>('is key parked', isKeyParked(db.t, { group, topic, key }));
      return rows[0]?.parked === true;
    },
    async setStatus(ids, status) {
      if (ids.length === 0) return;
      await db.run('set dead letter status', setDeadLetterStatus(db.t, { ids, status, now: clock.now() }));
    },
  };
}
