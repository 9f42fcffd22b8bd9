/** Runs a unit of work in one transaction. */
export interface TransactionRunner<Tx> {
  /**
   * Runs `work` in a transaction: commits (durably) when it resolves, rolls back when it rejects,
   * and settles only after that. The `tx` handle must not be used after `work` settles.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

/**
 * Portable SQL access inside a transaction, given to handlers as `ctx.tx` by the SQLite and
 * PostgreSQL engines. Parameters are positional `$1, $2, ...` on both engines, so the same
 * statements run on either when written in their common SQL.
 */
export interface SqlTx {
  /** Runs a statement that returns rows. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a statement and returns how many rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}
