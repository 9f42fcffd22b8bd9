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
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: SqlOptions): Promise<Row[]>;
  /** Runs a statement and returns how many rows it changed. */
  execute(sql: string, params?: readonly unknown[], options?: SqlOptions): Promise<number>;
}

/** How to run one statement through {@link SqlTx}. */
export interface SqlOptions {
  /**
   * Prepare the statement once per connection and reuse the plan (a named prepared statement on
   * PostgreSQL, which then skips parsing and planning — about 10 µs a statement). For the few
   * statements a handler runs again and again with new parameters; not for statements built on the
   * fly (every distinct text stays prepared on every connection). SQLite prepares and caches every
   * statement anyway.
   */
  readonly prepare?: boolean;
}
