import type { Db, Statement } from './db.js';

/** Rows one retention statement deletes at most, so no statement holds row locks for long. */
export const RETENTION_CHUNK = 5000;

/**
 * Runs a bounded delete (`statement(limit)`, one transaction each) until a run deletes fewer than
 * `limit` rows, or until `signal` aborts (checked between runs); returns the rows deleted. A short
 * run ends it even when rows remain that another transaction held (they are skipped, not waited
 * for): the next sweep takes them.
 */
export async function deleteInChunks(
  db: Db,
  context: string,
  statement: (limit: number) => Statement,
  options: { limit?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const limit = options.limit ?? RETENTION_CHUNK;
  let total = 0;
  while (!options.signal?.aborted) {
    const { rowCount } = await db.run(context, statement(limit));
    const deleted = rowCount ?? 0;
    total += deleted;
    if (deleted < limit) break;
  }
  return total;
}
