import { toError } from '../../model/errorCodes.js';
import type { Middleware } from '../handler.js';

/**
 * Turns anything a handler throws (a string, a plain object, a synchronous throw) into an Error with
 * a stack, so the policies outside it (retry, dead letter) always see a proper error and a bad
 * handler can never take the consumer down.
 */
export function recover<Tx = unknown>(): Middleware<Tx> {
  return (next) =>
    async function recoverHandler(event, ctx) {
      try {
        await next(event, ctx);
      } catch (thrown) {
        throw toError(thrown);
      }
    };
}
