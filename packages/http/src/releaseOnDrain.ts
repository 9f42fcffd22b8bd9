import { setMaxListeners } from 'node:events';
import type { AwaitEvent, EventWait } from './routes.js';

type Expectation = ReturnType<EventWait['expect']>;

/**
 * A command route's `awaitEvent` whose waits end, as at their timeout (no event), once `draining`
 * aborts: a request held for the outcome of work that already committed is then answered at once
 * with its 202 and `Location`, instead of being held until the shutdown deadline cuts its
 * connection (its client would see a network error for a command that succeeded, and the drain
 * would always last the whole deadline). A wait that begins while draining ends at once; the
 * route's `lookup` still answers what is already known. A waiter without `expect` is passed as is,
 * for the route's own checks to refuse.
 */
export function releaseOnDrain<R>(awaited: AwaitEvent<R>, draining: AbortSignal): AwaitEvent<R> {
  const waiter = awaited.waiter;
  if (typeof waiter?.expect !== 'function') return awaited;
  // one listener per request held (removed when it is answered): past Node's default of 10 it
  // would warn of a leak that is none at every busy moment
  setMaxListeners(0, draining);
  return {
    ...awaited,
    waiter: {
      expect: (correlationId, options) => (draining.aborted ? ended() : released(waiter.expect(correlationId, options), draining)),
    },
  };
}

/** `expectation`, ended (its own wait cancelled) as soon as `signal` aborts. */
function released(expectation: Expectation, signal: AbortSignal): Expectation {
  let end!: () => void;
  const ending = new Promise<undefined>((resolve) => (end = () => resolve(undefined)));
  const cancel = () => {
    signal.removeEventListener('abort', cancel);
    expectation.cancel();
    end();
  };
  signal.addEventListener('abort', cancel, { once: true });
  const result = Promise.race([expectation.result, ending]).finally(() => signal.removeEventListener('abort', cancel));
  return { result, cancel };
}

function ended(): Expectation {
  return { result: Promise.resolve(undefined), cancel: () => undefined };
}
