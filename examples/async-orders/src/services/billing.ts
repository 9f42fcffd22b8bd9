import type { App, SqlTx } from '@herald/core';
import { deadLetterOutcomes } from '../deadLetterOutcomes.js';
import { DepositApplied, DepositRequested, GROUPS, OrderCreated, PAYMENT_FAILURES, PaymentProcessed, RefundRequested, UserRegistered } from '../events.js';
import { depositFailures } from './depositFailures.js';
import { applyRefund, refundFailures } from './refunds.js';

/** Options of {@link registerBillingService}. */
export interface BillingServiceOptions {
  /** A new account's balance. */
  readonly startingBalanceCents: number;
  readonly maybeFail: (where: string) => void;
}

/**
 * billing (seed 004's mini_billing): owns the accounts. Every change of a balance is one handler
 * transaction with its record (payment, deposit, refund, each unique per order or deposit), the
 * event it publishes and the inbox mark, so a redelivered event moves no money twice. A payment
 * debits only what is there (`balance >= amount` in the UPDATE itself), so a balance never goes
 * negative whatever runs concurrently. An account is opened by UserRegistered, or by the first
 * deposit or order that arrives before it (the events come on different topics).
 *
 * An order that reaches billing at or after its `payBy` (billing was down or behind) is answered
 * with a failed payment, `PAYMENT_EXPIRED`, and takes no money: the order saga has given it up,
 * and money taken for it would sit on no order until the refund came, making the user's next
 * orders in the partition fail for funds they have. An OrderCreated without `payBy` (written
 * before it existed) has no limit. A refund gives back what this order's SUCCEEDED payment took,
 * once, and nothing for an order billing took no money for; one that comes before billing met the
 * order (the order service gave it up first) cancels it: billing never charges it. The payment's
 * record is the order's one claim, taken first by whichever of the two comes first.
 *
 * A deposit billing cannot apply (its DepositRequested dead-lettered) ends FAILED
 * ({@link depositFailures}); redriven later, it credits nothing. A refund it cannot apply (its
 * RefundRequested dead-lettered) is applied from the letter all the same ({@link refundFailures}):
 * money owed to a customer does not wait for an operator's redrive.
 */
export function registerBillingService(app: App<SqlTx>, options: BillingServiceOptions): void {
  const openAccount = (tx: SqlTx, username: string) =>
    tx.execute('INSERT INTO billing_accounts (username, balance_cents, created_at) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING', [
      username,
      options.startingBalanceCents,
      app.clock.now(),
    ]);
  // the account's row, held until the transaction ends: a deposit and its failure's record
  // (depositFailures.ts) take it first, so they decide one after the other
  const lockAccount = async (tx: SqlTx, username: string): Promise<void> => {
    await openAccount(tx, username);
    await tx.execute('UPDATE billing_accounts SET balance_cents = balance_cents WHERE username = $1', [username]);
  };
  const credit = async (tx: SqlTx, username: string, amountCents: number): Promise<number> => {
    await openAccount(tx, username);
    await tx.execute('UPDATE billing_accounts SET balance_cents = balance_cents + $1 WHERE username = $2', [amountCents, username]);
    const [row] = await tx.query<{ balance_cents: number }>('SELECT balance_cents FROM billing_accounts WHERE username = $1', [username]);
    return row!.balance_cents;
  };

  app.use(deadLetterOutcomes(app, { name: 'billing-dead-letters', rules: [depositFailures(app, { lockAccount }), refundFailures(app, { credit })] }));

  app.on(UserRegistered, { group: GROUPS.billing }, async (event, ctx) => {
    await openAccount(ctx.tx, event.data.username);
    options.maybeFail(ctx.handler);
  });

  app.on(DepositRequested, { group: GROUPS.billing }, async (event, ctx) => {
    const { depositId, username, amountCents } = event.data;
    await lockAccount(ctx.tx, username);
    const [done] = await ctx.tx.query<{ balance_after_cents: number }>('SELECT balance_after_cents FROM billing_deposits WHERE deposit_id = $1', [depositId]);
    if (done) return; // applied under another event id: nothing moves twice
    const [failed] = await ctx.tx.query('SELECT 1 FROM billing_deposit_failures WHERE deposit_id = $1', [depositId]);
    if (failed) {
      // its client was told it failed and may have deposited again: crediting it now would credit twice
      ctx.logger.warn('deposit already ended FAILED (its event was dead-lettered); this delivery credits nothing', { depositId });
      return;
    }
    const balanceCents = await credit(ctx.tx, username, amountCents);
    await ctx.tx.execute('INSERT INTO billing_deposits (deposit_id, username, amount_cents, balance_after_cents, applied_at) VALUES ($1, $2, $3, $4, $5)', [
      depositId,
      username,
      amountCents,
      balanceCents,
      app.clock.now(),
    ]);
    await ctx.publish(DepositApplied, { depositId, username, amountCents, balanceCents });
    options.maybeFail(ctx.handler);
  });

  const debit = async (tx: SqlTx, username: string, amountCents: number): Promise<boolean> => {
    await openAccount(tx, username);
    return (await tx.execute('UPDATE billing_accounts SET balance_cents = balance_cents - $1 WHERE username = $2 AND balance_cents >= $1', [amountCents, username])) === 1;
  };

  app.on(OrderCreated, { group: GROUPS.billing }, async (event, ctx) => {
    const { orderId, requestId, username, totalCents, payBy } = event.data;
    const processedAt = app.clock.now();
    // the saga's deadline counts from the order service's clock; payBy is on it too (its refund
    // of a late payment stays the backstop for a billing clock running behind)
    const expired = payBy !== undefined && processedAt >= payBy;
    // the payment's record first, as refused: the order's claim. An order paid, refused or
    // cancelled before (its refund came first) is left as it is, however the transactions interleave
    const claimed = await ctx.tx.execute(
      `INSERT INTO billing_payments (order_id, request_id, username, amount_cents, status, failure_reason, processed_at)
       VALUES ($1, $2, $3, $4, 'FAILED', $5, $6) ON CONFLICT (order_id) DO NOTHING`,
      [orderId, requestId, username, totalCents, expired ? PAYMENT_FAILURES.expired : PAYMENT_FAILURES.insufficientFunds, processedAt],
    );
    if (claimed === 0) return;
    const success = !expired && (await debit(ctx.tx, username, totalCents));
    if (success) await ctx.tx.execute("UPDATE billing_payments SET status = 'SUCCEEDED', failure_reason = NULL WHERE order_id = $1", [orderId]);
    const failureReason = success ? null : expired ? PAYMENT_FAILURES.expired : PAYMENT_FAILURES.insufficientFunds;
    await ctx.publish(PaymentProcessed, { requestId, orderId, username, amountCents: totalCents, success, failureReason, processedAt });
    options.maybeFail(ctx.handler);
  });

  app.on(RefundRequested, { group: GROUPS.billing }, async (event, ctx) => {
    await applyRefund(ctx.tx, event.data, { now: app.clock.now(), logger: ctx.logger, credit });
    options.maybeFail(ctx.handler);
  });
}
