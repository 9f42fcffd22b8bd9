import { CoreErrors, HeraldError, type SqlTx } from '@herald/core';
import type { QueryResult } from 'pg';
import type { Statement } from './db.js';
import { clientQuery, enqueue, runQuery, stateOf, type CoalescedGroup, type TxState } from './txConnection.js';

/**
 * Runs a statement inside `tx` and returns how many rows it changed. On a handle made by
 * `runTransaction` it goes straight to the pooled client (so named statements are prepared
 * once per connection); on any other `SqlTx` it falls back to the portable `execute`.
 */
export async function executeInTx(tx: SqlTx, context: string, statement: Statement): Promise<number> {
  const state = stateOf(tx);
  if (!state) return tx.execute(statement.text, statement.values ?? []);
  const result = await clientQuery(state, context, statement);
  return result.rowCount ?? 0;
}

/**
 * Runs a statement inside `tx` and returns its result (rows and rowCount). On a handle made by
 * `runTransaction` it goes straight to the pooled client; on any other `SqlTx` it falls back
 * to the portable `query` (rowCount then is the number of rows returned).
 */
export async function queryInTx(tx: SqlTx, context: string, statement: Statement): Promise<QueryResult> {
  const state = stateOf(tx);
  if (!state) {
    const rows = await tx.query(statement.text, statement.values ?? []);
    return { rows, rowCount: rows.length, command: '', oid: 0, fields: [] };
  }
  return clientQuery(state, context, statement);
}

/** Remembers that `tx` appended to the outbox (no-op for handles the stores did not create). */
export function noteAppended(tx: SqlTx): void {
  const state = stateOf(tx);
  if (state) state.appended = true;
}

/**
 * Defers `items` to one statement run just before the transaction commits, together with every
 * item deferred under the same `kind` in this transaction, in the order given (one multi-row write
 * instead of one per call). Returns false, deferring nothing, when `tx` was not made by
 * `runTransaction`: the caller then writes at once. A failure of the deferred statement rolls
 * the transaction back and rejects it like a failed statement in `work`.
 */
export function deferToCommit<I>(tx: SqlTx, kind: string, context: string, items: readonly I[], flush: (items: I[]) => Statement): boolean {
  const state = stateOf(tx);
  if (!state) return false;
  if (!state.open) throw new HeraldError(CoreErrors.closed, `pgStores: ${context} on a transaction that already finished`);
  state.deferred ??= new Map();
  let entry = state.deferred.get(kind);
  if (!entry) {
    entry = { items: [], flush: flush as (items: unknown[]) => Statement, context };
    state.deferred.set(kind, entry);
  }
  entry.items.push(...items);
  return true;
}

/**
 * Runs `item` as part of one statement shared with the items of the same `kind` that callers
 * sharing this transaction handed in while the connection was busy (batched handlers all marking
 * their inbox entries at once): `build` makes the statement for the group, `read` gives each item
 * its answer, in order. Returns undefined when `tx` was not made by `runTransaction` (the
 * caller then runs its single statement itself). A failed statement rejects every item of its group.
 */
export function coalesceInTx<I, R>(
  tx: SqlTx,
  kind: string,
  context: string,
  item: I,
  build: (items: I[]) => Statement,
  read: (result: QueryResult, items: I[]) => R[],
): Promise<R> | undefined {
  const state = stateOf(tx);
  if (!state) return undefined;
  state.coalescing ??= new Map();
  let group = state.coalescing.get(kind);
  if (!group) {
    const open: CoalescedGroup = { items: [], waiters: [] };
    group = open;
    state.coalescing.set(kind, open);
    enqueue(state, async () => {
      // the group closes when its turn comes: later items form the next group
      state.coalescing?.delete(kind);
      const items = open.items as I[];
      try {
        const answers = read(await runQuery(state, context, build(items)), items);
        open.waiters.forEach((w, i) => w.resolve(answers[i]));
      } catch (error) {
        open.waiters.forEach((w) => w.reject(error));
      }
    });
  }
  const joined = group;
  return new Promise<R>((resolve, reject) => {
    joined.items.push(item);
    joined.waiters.push({ resolve: resolve as (value: unknown) => void, reject });
  });
}

/** Runs the writes deferred to commit, kind by kind in the order they were first deferred. */
export async function flushDeferred(state: TxState): Promise<void> {
  // after a failed statement the server refuses everything: COMMIT then reports that failure
  if (!state.deferred || state.failure) return;
  for (const { items, flush, context } of state.deferred.values()) {
    if (items.length > 0) await clientQuery(state, context, flush(items));
  }
  state.deferred = undefined;
}
