import type { Statement } from '../db.js';
import type { Tables } from '../tables.js';
import { keyMatches, keyParams } from './letterColumns.js';
import { OPEN_STATUSES } from './statuses.js';

/**
 * Whether a `park-key` letter of this key is `dead` or `parked` in this group. The predicate matches
 * the partial index `dead_letters_parked` exactly, so the check reads an index holding only the
 * letters currently holding keys back, however many letters the table keeps. The index holds a
 * hash of the key, not the key (a key of any length can be indexed): the key itself, and its bytes
 * when it has any, are compared on the rows the hash finds.
 */
export function isKeyParked(t: Tables, options: { group: string; topic: string; key: string }): Statement {
  return {
    name: `${t.statementPrefix}is_key_parked`,
    text: `SELECT EXISTS (
        SELECT 1 FROM ${t.deadLetters}
        WHERE group_name = $1 AND topic = $2 AND hashtextextended(key, 0) = hashtextextended($3, 0) AND ${keyMatches('$3', '$4')}
          AND policy = 'park-key' AND status IN ${OPEN_STATUSES}
      ) AS parked`,
    values: [options.group, options.topic, ...keyParams(options.key)],
  };
}
