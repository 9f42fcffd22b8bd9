import type { HandlerContext } from '../handler.js';
import type { Abortable } from './runtimeContext.js';

/** What happened to one delivery, filled in by the middleware as it runs. */
export type Outcome = 'applied' | 'duplicate' | 'ignored' | 'dead-lettered' | 'parked';

/** Per-delivery bookkeeping shared by the middleware, out of the public context type. */
export interface DeliveryState {
  outcome: Outcome;
  /** Attempts made so far (set by the retry policy). */
  attempts: number;
  /** When the first attempt failed (set by the retry policy). */
  firstFailureAt?: number;
  /** Aborted when the consumer is closing: stop waiting, abandon rather than dead-letter. */
  readonly closing: AbortSignal;
  /** Attempts in flight, aborted by the consumer if it stops (past its close deadline). */
  readonly attemptsInFlight?: Set<Abortable>;
}

/** The delivery state of a context built by the runtime (also through contexts derived from it). */
export function stateOf(ctx: HandlerContext<unknown>): DeliveryState {
  const state = maybeStateOf(ctx);
  if (!state) throw new Error('herald: context has no delivery state (was it built by the consumer runtime?)');
  return state;
}

/** The delivery state, or undefined for a context not built by the runtime. */
export function maybeStateOf(ctx: HandlerContext<unknown>): DeliveryState | undefined {
  return (ctx as { state?: DeliveryState }).state;
}
