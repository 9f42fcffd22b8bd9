import { CoreErrors, toError } from '../../model/errorCodes.js';
import { HeraldError } from '../../model/errors.js';
import type { DeadLetterPolicy } from '../../ports/stores/deadLetters.js';
import { recordDeadLetter, type DeadLetterDeps } from '../deadLetters.js';
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
        const letter = await recordDeadLetter(options, { ...input(), error: parkedError(event.key), attempts: 0, firstFailureAt: clock.now(), status: 'parked' });
        // what it waits behind may have been redriven between the look and this write, by a
        // redrive past its last look at the key: nothing would release this letter then (the key
        // held until the next redrive). Taken back, and handled now, in its place in the key's order.
        if (await keyParkedBesides(store, ctx.delivery, ctx.group, letter.id)) {
          state.settle('parked');
          return;
        }
        await store.setStatus([letter.id], 'redriven');
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

function parkedError(key: string): HeraldError {
  return new HeraldError(CoreErrors.parkedBehindKey, `parked behind an earlier dead letter of key "${key}"`);
}

/** The error that tells the runtime to leave a delivery uncommitted because the consumer is closing. */
export function abandoned(cause: unknown): HeraldError {
  return new HeraldError(CoreErrors.closed, 'consumer closing: delivery abandoned, it will be redelivered', { retriable: true, cause });
}
