import type { HandlerContext } from '../handler.js';

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
  /** Per-attempt controllers to abort if the consumer stops (past its close deadline). */
  readonly attemptsInFlight?: Set<AbortController>;
}

const STATE = Symbol.for('herald.deliveryState');

export function stateOf(ctx: HandlerContext<unknown>): DeliveryState {
  const state = (ctx as unknown as Record<symbol, DeliveryState | undefined>)[STATE];
  if (!state) throw new Error('herald: context has no delivery state (was it built by the consumer runtime?)');
  return state;
}

/** The delivery state, or undefined for a context not built by the runtime. */
export function maybeStateOf(ctx: HandlerContext<unknown>): DeliveryState | undefined {
  return (ctx as unknown as Record<symbol, DeliveryState | undefined>)[STATE];
}

export function attachState<C extends object>(ctx: C, state: DeliveryState): C {
  Object.defineProperty(ctx, STATE, { value: state, enumerable: false });
  return ctx;
}
