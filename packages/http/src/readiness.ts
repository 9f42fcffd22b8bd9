/** Where a server is in its life: readiness probes answer 200 only when `ready`. */
export type ReadinessState = 'starting' | 'ready' | 'draining' | 'closed';

/** The readiness state machine: starting -> ready -> draining -> closed; it never goes back. */
export interface Readiness {
  readonly state: ReadinessState;
  /** Moves `starting` to `ready`; no effect once draining. */
  markReady(): void;
  /** Moves to `draining` (from any state but `closed`). */
  markDraining(): void;
  markClosed(): void;
  readonly isReady: boolean;
}

/** Creates a {@link Readiness} in state `starting`. */
export function createReadiness(): Readiness {
  let state: ReadinessState = 'starting';
  return {
    get state() {
      return state;
    },
    get isReady() {
      return state === 'ready';
    },
    markReady() {
      if (state === 'starting') state = 'ready';
    },
    markDraining() {
      if (state !== 'closed') state = 'draining';
    },
    markClosed() {
      state = 'closed';
    },
  };
}
