import { HeraldError, isHeraldError, type Clock, type DeadLetterBrowser, type DeadLetterStore } from '@herald/core';
import { toDeadLetter, toDeadLetterGroup, toNumber, type DeadLetterGroupRow, type DeadLetterRow } from '@herald/sql';
import { PgErrors } from '../../errors.js';
import type { Db } from '../db.js';
import { addDeadLetter, type AddedRow } from './addDeadLetter.js';
import { countDeadLetters } from './countDeadLetters.js';
import { discardDeadLetters } from './discardDeadLetters.js';
import { groupDeadLetters } from './groupDeadLetters.js';
import { isKeyParked } from './isKeyParked.js';
import { exactRow, type ColumnBytes } from './letterColumns.js';
import { listDeadLetters } from './listDeadLetters.js';
import { pageDeadLetters, toPage, type PageRow } from './pageDeadLetters.js';
import { OPEN_RECORD_INDEX, setDeadLetterStatus } from './setDeadLetterStatus.js';

/** Adds (or status updates) of one letter before giving up, each losing a race with a concurrent add of its record whose letter was resolved before the next. */
const ADD_ATTEMPTS = 3;

/**
 * Dead letters on PostgreSQL, with the operator's read side (`DeadLetterBrowser`); each method is
 * one statement, its own transaction, so reads see what is committed (an add that lost a race with
 * a concurrent add of its record runs its statement again, see `addDeadLetter.ts`, and so does a
 * status update that lost one, see `setDeadLetterStatus.ts`). Rows, queries and
 * groups are mapped by `@herald/sql`, as on SQLite, but for a letter's key and envelope, which hold
 * whatever a record's producer wrote: stored so that any string is kept exactly, U+0000 and lone
 * surrogates included, and a key is matched exactly (see `letterColumns.ts`). Pages follow the
 * order of the adding transactions and stop at the oldest one still running, so a cursor never
 * skips a letter that commits late (see `pageDeadLetters.ts`). `clock` stamps when a letter was
 * resolved (redriven or discarded), which is what its retention counts from.
 */
export function pgDeadLetterStore(db: Db, clock: Clock): DeadLetterStore & DeadLetterBrowser {
  return {
    async add(letter) {
      for (let attempt = 1; ; attempt++) {
        const { rows } = await db.run<AddedRow>('add dead letter', addDeadLetter(db.t, { letter, now: clock.now() }));
        const row = rows[0]!;
        if (row.id !== null) return toDeadLetter(exactRow(row as DeadLetterRow & ColumnBytes));
        if (row.added) return undefined;
        // a concurrent add of the record committed after this statement began: the next one sees it
        if (attempt === ADD_ATTEMPTS) throw new HeraldError(PgErrors.conflict, `dead letter ${letter.id}: its record's open letter changed under ${ADD_ATTEMPTS} adds in a row`);
      }
    },
    async list(filter) {
      const { rows } = await db.run<DeadLetterRow & ColumnBytes>('list dead letters', listDeadLetters(db.t, filter));
      return rows.map((row) => toDeadLetter(exactRow(row)));
    },
    async isKeyParked(group, topic, key) {
      const { rows } = await db.run<{ parked: boolean }>('is key parked', isKeyParked(db.t, { group, topic, key }));
      return rows[0]?.parked === true;
    },
    async setStatus(ids, status) {
      if (ids.length === 0) return [];
      for (let attempt = 1; ; attempt++) {
        try {
          const { rows } = await db.run<{ id: string }>('set dead letter status', setDeadLetterStatus(db.t, { ids, status, now: clock.now() }));
          return rows.map((row) => row.id);
        } catch (error) {
          // a concurrent add or reopen of a record's open letter committed after this statement began: the next one sees it
          if (attempt === ADD_ATTEMPTS || !isHeraldError(error) || error.details?.constraint !== OPEN_RECORD_INDEX) throw error;
        }
      }
    },
    async page(request = {}) {
      const plan = pageDeadLetters(db.t, request);
      const { rows } = await db.run<PageRow>('page dead letters', plan.statement);
      return toPage(rows, plan);
    },
    async count(query = {}) {
      const { rows } = await db.run<{ n: number | string }>('count dead letters', countDeadLetters(db.t, query));
      return toNumber(rows[0]!.n);
    },
    async groups(query = {}) {
      const { rows } = await db.run<DeadLetterGroupRow>('group dead letters', groupDeadLetters(db.t, query));
      return rows.map(toDeadLetterGroup);
    },
    async discard(ids) {
      if (ids.length === 0) return 0;
      const { rowCount } = await db.run('discard dead letters', discardDeadLetters(db.t, { ids, now: clock.now() }));
      return rowCount ?? 0;
    },
  };
}
