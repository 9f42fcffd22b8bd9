import { CoreErrors, toError } from '../../model/errorCodes.js';
import { HeraldError } from '../../model/errors.js';
import type { DeadLetterPolicy } from '../../ports/stores/deadLetters.js';
import { recordDeadLetter, type DeadLetterDeps, type DeadLetterInput } from '../deadLetters.js';
import type { Middleware } from '../handler.js';
import { keyParkedBesides, keyParkedFor } from '../logRedrive.js';

/**
 * Ends an event that failed for good (retries exhausted, or a non-retriable error) in the dead
 * letter store, then lets the consumer move on. The failure counts as handled only once the dead
 * letter is stored; if storing fails, the error propagates and the delivery is tried again later.
 *
 * With policy `park-key`, an event whose key already has a dead (or parked) letter in this group is
 * not handled: it is parked behind it, unprocessed, until a redrive (a redrive through the log
 * waits only behind letters its own run produced, see `keyParkedFor`). With `skip`, later events of
 * the key flow on. While the consumer is closing, failures are abandoned (redelivered later), never
 * dead-lettered. A redrive passes straight through: the redrive reports its own failures.
 */
export function deadLetter<Tx = unknown>(options: DeadLetterDeps & { policy: DeadLetterPolicy }): Middleware<Tx> {
  const { store, policy, clock } = options;
  return (next) =>
    async function deadLetterHandler(event, ctx) {
      if (ctx.redrive) return next(event, ctx);
      const { state } = ctx;
      // built only when something is recorded: the success path allocates nothing here
      const input = () => ({ group: ctx.group, handler: ctx.handler, delivery: ctx.delivery, eventId: event.id, eventType: event.type, policy });
      if (policy === 'park-key' && (await keyParkedFor(store, ctx.delivery, ctx.group))) {
        // parking goes by the record's key, which a foreign producer may have set apart from the envelope's
        const parked = await parkBehindKey(options, { ...input(), error: parkedError(ctx.delivery.key) });
        if (parked !== 'handle') {
          state.settle(parked);
          return;
        }
      }
      try {
        await next(event, ctx);
      } catch (thrown) {
        if (state.closing.aborted) throw abandoned(thrown);
        const error = toError(thrown);
        await recordDeadLetter(options, { ...input(), error, attempts: state.attempts, firstFailureAt: state.firstFailureAt ?? clock.now(), status: 'dead' });
        ctx.logger.error('event dead-lettered', { error, attempts: state.attempts, policy });
        state.settle('dead-lettered');
      }
    };
}

/**
 * Parks a delivery whose key is held: `parked`, or `handle` when it turns out to have nothing to
 * wait behind, its letter then taken back (`redriven`) so that it is handled now, in its place in
 * the key's order. The letter is written before the second look, so a redrive of what it waits
 * behind either comes before that look or finds the letter and releases it.
 *
 * A letter of this very record (same topic, partition, offset and event) is its own, left before a
 * redelivery (a crash, close or revoke before its commit, a replay) or by an attempt whose
 * take-back failed (the delivery is tried again): it is never waited behind, or the record would
 * park behind itself and hold its key for good. A dead one means the record failed already:
 * `dead-lettered`, as it was, also when it is the letter the store keeps in place of the parking
 * write (a concurrent failure of the record stored it after the first look): it is never taken
 * back here. A parked one is used, not written again.
 */
async function parkBehindKey(deps: DeadLetterDeps, input: Omit<DeadLetterInput, 'attempts' | 'firstFailureAt' | 'status'>): Promise<'parked' | 'dead-lettered' | 'handle'> {
  const { store, clock } = deps;
  const { delivery, group, eventId } = input;
  const own = async (status: 'dead' | 'parked') =>
    (await store.list({ group, key: delivery.key, status }))
      .filter((l) => l.topic === delivery.topic && l.partition === delivery.partition && l.offset === delivery.offset && l.eventId === eventId)
      .map((l) => l.id);
  if ((await own('dead')).length > 0) return 'dead-lettered';
  let letters = await own('parked');
  if (letters.length === 0) {
    const kept = await recordDeadLetter(deps, { ...input, attempts: 0, firstFailureAt: clock.now(), status: 'parked' });
    // the store kept the record's dead letter instead, a concurrent failure's (another member's,
    // after a rebalance): not this attempt's to take back, and it holds the key as the record's
    if (kept.status === 'dead') return 'dead-lettered';
    letters = [kept.id];
  }
  // what it waits behind may have been redriven between the first look and the letter's write, by
  // a redrive past its last look at the key: nothing would release the letter then
  if (await keyParkedBesides(store, delivery, group, letters)) return 'parked';
  await store.setStatus(letters, 'redriven');
  return 'handle';
}

function parkedError(key: string): HeraldError {
  return new HeraldError(CoreErrors.parkedBehindKey, `parked behind an earlier dead letter of key "${key}"`);
}

/** The error that tells the runtime to leave a delivery uncommitted because the consumer is closing. */
export function abandoned(cause: unknown): HeraldError {
  return new HeraldError(CoreErrors.closed, 'consumer closing: delivery abandoned, it will be redelivered', { retriable: true, cause });
}
