import type { App, DeadLetter, SqlTx } from '@herald/core';
import { readLetter, usableText, type DeadLetterRule, type Settlement } from '../deadLetterOutcomes.js';
import { DepositFailed, DepositRequested, GROUPS } from '../events.js';

/** Options of {@link depositFailures}. */
export interface DepositFailuresOptions {
  /** Takes the account's row until the transaction ends (opening the account if need be), as the deposit handler does first. */
  readonly lockAccount: (tx: SqlTx, username: string) => Promise<void>;
}

/**
 * Ends FAILED every deposit billing could not apply: the rule (for deadLetterOutcomes.ts) of
 * billing's DepositRequested letters. A deposit the gateway accepted is PENDING until billing
 * applies it; when its DepositRequested is a dead letter of billing's group instead — refused as
 * poison or failed for good by the handler — nothing would ever apply it, and its client would see
 * PENDING for ever.
 *
 * For each such letter the deposit is recorded FAILED (`billing_deposit_failures`: its letter and
 * reason) and DepositFailed is published, in one transaction: the gateway answers the client (a
 * `deposit-failed` problem with the reason) and shows FAILED. Nothing was credited, and nothing will
 * be: a redrive of the letter finds the failure and credits nothing (services/billing.ts), since
 * the client, told its deposit failed, may have deposited again. The failure and the deposit are
 * decided one after the other (each takes the account's row first), so one deposit is never both
 * applied and failed. A letter naming no deposit or owner is left alone (logged).
 */
export function depositFailures(app: App<SqlTx>, options: DepositFailuresOptions): DeadLetterRule {
  return { group: GROUPS.billing, eventType: DepositRequested.type, settle: (letter) => failDeposit(app, options, letter) };
}

async function failDeposit(app: App<SqlTx>, options: DepositFailuresOptions, letter: DeadLetter): Promise<Settlement> {
  const deposit = depositOf(letter);
  if (typeof deposit === 'string') {
    app.logger.warn('deposit failures: a dead letter names no deposit; nothing to end', { letter: letter.id, why: deposit });
    return 'settled';
  }
  const { depositId, username, amountCents, eventId } = deposit;
  const failed = await app.transaction(async (tx, publish) => {
    await options.lockAccount(tx, username);
    const [applied] = await tx.query('SELECT 1 FROM billing_deposits WHERE deposit_id = $1', [depositId]);
    if (applied) return false;
    const now = app.clock.now();
    const recorded = await tx.execute(
      `INSERT INTO billing_deposit_failures (deposit_id, username, amount_cents, dead_letter_id, reason, failed_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (deposit_id) DO NOTHING`,
      [depositId, username, amountCents, letter.id, letter.reason, now],
    );
    if (recorded === 0) return false;
    await publish(DepositFailed, { depositId, username, amountCents, reason: letter.reason, deadLetterId: letter.id, failedAt: now }, { correlationId: depositId, causationId: eventId });
    return true;
  });
  if (failed) app.logger.warn('deposit ended FAILED: its event is a dead letter', { depositId, letter: letter.id, reason: letter.reason });
  return 'settled';
}

/** What a letter's envelope says of its deposit (an amount it cannot read is 0), or why it says nothing usable. */
function depositOf(letter: DeadLetter): { depositId: string; username: string; amountCents: number; eventId: string } | string {
  const read = readLetter(letter);
  if (typeof read === 'string') return read;
  const { event, data } = read;
  const depositId = usableText(data['depositId']) ?? usableText(event.correlationId);
  const username = usableText(data['username']) ?? usableText(letter.key);
  if (depositId === undefined || username === undefined) return 'no deposit id or owner a store can keep';
  const amount = data['amountCents'];
  return { depositId, username, amountCents: Number.isSafeInteger(amount) && (amount as number) >= 1 ? (amount as number) : 0, eventId: event.id };
}
