import { HeraldError } from '@herald/core';
import { SqliteErrors } from '../errors.js';

/**
 * Transaction control belongs to the engine: a handler's COMMIT would end everyone's batch. SQLite
 * skips whitespace, comments and empty statements (`;`) before the keyword, so this does too. A
 * COMMIT must be refused before it runs (it cannot be undone); statements that roll back
 * (`INSERT OR ROLLBACK`, triggers) are caught after they run by the step log. Each comment matches
 * in one way only (up to its end), so a long run of them cannot make the match backtrack.
 */
const TRANSACTION_CONTROL = /^(?:[\s;]|--[^\n]*(?:\n|$)|\/\*(?:[^*]|\*(?!\/))*(?:\*\/|$))*(?:BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b/i;

/** Throws `transaction-control` for a statement that would begin or end a transaction. */
export function refuseTransactionControl(sql: string): void {
  if (TRANSACTION_CONTROL.test(sql)) {
    throw new HeraldError(SqliteErrors.transactionControl, 'stores: transaction control statements are not allowed in a tx; the engine commits when your work resolves');
  }
}
