import type { Tables } from '../tables.js';

/**
 * One schema change. Versions only grow; a released migration is never edited, but to correct how
 * it gets to the same schema (version 7: what it stamps on the rows it finds). Its statements run
 * under the migration lock and create with plain `CREATE`: `migrate` sends the text as one query
 * and maps its failure by the whole text, so an `IF NOT EXISTS` anywhere in it would make a name
 * clash in any of its statements read as a race with a concurrent session, and be retried.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (t: Tables) => string;
}
