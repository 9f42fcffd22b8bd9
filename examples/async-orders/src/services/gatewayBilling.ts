import { HeraldError, uuidv7 } from '@herald/core';
import type { SqlTx } from '@herald/core';
import { HttpErrorCodes, PROBLEM_CONTENT_TYPE, toProblem, type Gateway, type RouteResponse } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { DepositApplied, DepositFailed, DepositRequested } from '../events.js';
import { GATEWAY_ERROR_KINDS, GATEWAY_ERRORS, IdParams, type GatewayRoutesOptions } from './gateway.js';

const DepositBody = Type.Object({ amountCents: Type.Integer({ minimum: 1, maximum: 100_000_000_00 }) }, { additionalProperties: false });

/**
 * The gateway's billing routes (seed 004's API, as `registerGatewayRoutes`' orders): the caller's
 * balance and deposits. `POST /billing/deposit` publishes DepositRequested (correlation id: a new
 * deposit id) and holds the request until billing's answer: DepositApplied (200 with the new
 * balance) or DepositFailed (a 422 problem `deposit-failed` with the reason: billing could not
 * apply it, nothing was credited), or answers 202 with `Location: /billing/deposits/{id}` past
 * `waitMs`. Deduplicated by `Idempotency-Key`, scoped to the caller. `GET /billing/deposits/{id}`
 * shows it PENDING, APPLIED or FAILED (with its `reason`); another user's is 404.
 */
export function registerBillingRoutes(gateway: Gateway<SqlTx>, options: GatewayRoutesOptions): void {
  const { app, waiter } = options;
  const roles = [options.role];
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.read(work);

  gateway.command({
    method: 'POST',
    url: '/billing/deposit',
    roles,
    body: DepositBody,
    status: 202,
    handle: async ({ body, tx, publish, principal }) => {
      const depositId = uuidv7();
      const username = principal!.username;
      const now = app.clock.now();
      await tx.execute('INSERT INTO gateway_deposit_requests (deposit_id, username, amount_cents, created_at) VALUES ($1, $2, $3, $4)', [depositId, username, body.amountCents, now]);
      await publish(DepositRequested, { depositId, username, amountCents: body.amountCents, requestedAt: now }, { correlationId: depositId });
      return { depositId, status: 'PENDING' as const, amountCents: body.amountCents };
    },
    awaitEvent: {
      waiter,
      timeoutMs: options.waitMs,
      correlationId: (result) => result.depositId,
      until: (event) => event.type === DepositApplied.type || event.type === DepositFailed.type,
      answer: (event) => depositAnswer(event.data as { depositId: string; balanceCents?: number; reason?: string }),
      lookup: async (result) => {
        const [row] = await read((tx) => tx.query<DepositRow>(`${DEPOSIT_SELECT} WHERE r.deposit_id = $1`, [result.depositId]));
        return row && depositStatus(row) !== 'PENDING' ? depositAnswer({ depositId: row.deposit_id, balanceCents: row.balance_after_cents ?? undefined, reason: row.failure ?? undefined }) : undefined;
      },
      location: (result) => `/billing/deposits/${result.depositId}`,
      pending: (result) => ({ depositId: result.depositId, status: 'PENDING' }),
    },
  });

  gateway.query({
    url: '/billing/balance',
    roles,
    handle: async ({ principal }) => {
      const [row] = await read((tx) => tx.query<{ balance_cents: number }>('SELECT balance_cents FROM billing_accounts WHERE username = $1', [principal!.username]));
      // the account is opened by billing once it saw the registration; until then the balance is not known
      if (!row) throw new HeraldError(HttpErrorCodes.unavailable, 'the account is being opened; try again shortly', { retriable: true });
      return { balanceCents: row.balance_cents };
    },
  });

  gateway.query({
    url: '/billing/deposits/:id',
    roles,
    params: IdParams,
    handle: async ({ params, principal }) => {
      const [row] = await read((tx) => tx.query<DepositRow>(`${DEPOSIT_SELECT} WHERE r.deposit_id = $1 AND r.username = $2`, [params.id, principal!.username]));
      if (!row) throw new HeraldError(GATEWAY_ERRORS.depositNotFound, `no deposit ${params.id}`);
      const status = depositStatus(row);
      const view = { depositId: row.deposit_id, status, amountCents: row.amount_cents, balanceCents: row.balance_after_cents };
      return status === 'FAILED' ? { ...view, reason: row.failure! } : view;
    },
  });
}

interface DepositRow {
  deposit_id: string;
  amount_cents: number;
  /** Once billing applied it. */
  balance_after_cents: number | null;
  /** The dead letter's reason, once billing could not apply it. */
  failure: string | null;
}

/** A deposit request with what billing made of it (`gateway_deposit_requests r`, then a WHERE on `r`). */
const DEPOSIT_SELECT = `SELECT r.deposit_id, r.amount_cents, d.balance_after_cents, f.reason AS failure
  FROM gateway_deposit_requests r LEFT JOIN billing_deposits d ON d.deposit_id = r.deposit_id
  LEFT JOIN billing_deposit_failures f ON f.deposit_id = r.deposit_id`;

const depositStatus = (row: DepositRow) => (row.balance_after_cents !== null ? 'APPLIED' : row.failure !== null ? 'FAILED' : 'PENDING');

/**
 * The answer to POST /billing/deposit once the deposit is final: 200 with the new balance, or, when
 * billing could not apply it, a 422 problem `deposit-failed` with the reason (the dead letter's)
 * and the deposit id (`instance` is the deposit's URL): nothing was credited, and a new key deposits again.
 */
function depositAnswer(deposit: { depositId: string; balanceCents?: number | undefined; reason?: string | undefined }): RouteResponse {
  const { depositId, balanceCents, reason } = deposit;
  if (balanceCents !== undefined) return { status: 200, body: { balanceCents } };
  const failed = new HeraldError(GATEWAY_ERRORS.depositFailed, `deposit ${depositId} could not be applied (${reason ?? 'unknown'}): nothing was credited; deposit again with a new Idempotency-Key`);
  const problem = toProblem(failed, `/billing/deposits/${depositId}`, { errorKinds: GATEWAY_ERROR_KINDS });
  return { status: problem.status, body: { ...problem, depositId, reason: reason ?? 'unknown' }, headers: { 'content-type': PROBLEM_CONTENT_TYPE } };
}

