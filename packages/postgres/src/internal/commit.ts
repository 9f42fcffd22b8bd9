import { CoreErrors, HeraldError } from '@herald/core';
import type { PoolClient, QueryResult } from 'pg';
import { PgErrorCodes, isConnectionError, toStoreError } from '../errors.js';
import { afterFailure } from './txConnection.js';
import type { TransactionDeadline } from './transactionWatch.js';

/**
 * COMMIT, under the transaction's deadline still, with {@link COMMIT_GRACE_MS} more: a COMMIT sent
 * just before the deadline (work that used most of the time) is a normal one, not a stuck one.
 * Past that the outcome is unknown (the server may be running deferred triggers, writing the
 * commit, or waiting for a synchronous standby): it rejects with a retriable `timeout` whose
 * `details.commitOutcome` is `unknown`, as a connection lost during COMMIT does, and the caller
 * discards the connection, on which COMMIT may still run. The COMMIT is not cancelled: a cancel
 * could land before or after the commit record, which would leave the outcome just as unknown.
 */
export async function commitBefore(client: PoolClient, failure: HeraldError | undefined, deadline: TransactionDeadline, timeoutMs: number): Promise<void> {
  let grace: NodeJS.Timeout | undefined;
  const pastDeadline = deadline.expired.catch(async (expired: unknown) => {
    await new Promise((resolve) => (grace = setTimeout(resolve, COMMIT_GRACE_MS)));
    throw new HeraldError(CoreErrors.timeout, `pgStores: COMMIT did not finish within ${timeoutMs} ms (transactionTimeoutMs) and ${COMMIT_GRACE_MS} ms more: the transaction may or may not have committed; its connection is discarded`, {
      retriable: true,
      cause: expired,
      details: { commitOutcome: 'unknown' },
    });
  });
  try {
    await Promise.race([commit(client, failure), pastDeadline]);
  } finally {
    clearTimeout(grace);
  }
}

/** How long a COMMIT may run past the transaction's deadline before its outcome is reported unknown. */
const COMMIT_GRACE_MS = 2_000;

async function commit(client: PoolClient, failure: HeraldError | undefined): Promise<void> {
  let result: QueryResult;
  try {
    result = await client.query('COMMIT');
  } catch (thrown) {
    const error = toStoreError(thrown, 'pgStores: commit');
    if (!isConnectionError(error)) throw error;
    throw new HeraldError(error.code, `${error.message} (the transaction may or may not have committed)`, {
      retriable: true,
      cause: thrown,
      details: { ...error.details, commitOutcome: 'unknown' },
    });
  }
  if (result.command === 'ROLLBACK') {
    if (failure) throw afterFailure(failure, 'pgStores: the transaction was rolled back: a statement in it failed earlier');
    throw new HeraldError(PgErrorCodes.failed, 'pgStores: the transaction was rolled back: a statement in it failed earlier (PostgreSQL aborts the whole transaction at the first error)', {
      retriable: false,
    });
  }
}
