import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Clock } from '../ports/clock.js';
import type { Component } from '../ports/component.js';
import type { Logger } from '../ports/logger.js';
import { settlesWithin } from '../timing/settlesWithin.js';

/** How long past its deadline a component's close is waited for before the app closes the rest without it. */
const CLOSE_OVERRUN_MS = 1_000;

export interface LifecycleDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * The running components in the order they close: phase after phase, the components of one
   * phase at the same time.
   */
  closeOrder(running: readonly Component[]): readonly (readonly Component[])[];
  /** Closes what the components ran on (the broker, then the stores), after the last of them. */
  closeEngine(): Promise<void>;
}

/** An app's components from start to close: one start, one close, each component closed once. */
export interface Lifecycle {
  /** Aborted (with `closed`) as soon as the close begins. */
  readonly signal: AbortSignal;
  /**
   * Runs `prepare`, then starts the components one after another. Once the app is closing it
   * starts no more and rejects with `closed`: close closes what it started (waiting for the start
   * in progress), or, when close's deadline ended first, the start closes what it finished itself.
   */
  start(components: readonly Component[], prepare: () => Promise<void>): Promise<void>;
  /** Resolves once every started component is ready; rejects if the app closes first. */
  ready(): Promise<void>;
  /** Closes within `deadlineMs`; the first call decides, later ones share its promise. */
  close(deadlineMs: number): Promise<void>;
}

export function createLifecycle(deps: LifecycleDeps): Lifecycle {
  const { clock, logger } = deps;
  const running: Component[] = [];
  /** Each started component's stop signal, aborted right before its close. */
  const stops = new Map<Component, AbortController>();
  const lifetime = new AbortController();
  /** The start in progress (or done): close waits for it, within its deadline. */
  let starting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** When close's deadline ends, once close has taken the list of running components: start closes any it starts later itself. */
  let closedBy: number | undefined;

  function throwIfClosing(cause?: unknown): void {
    if (lifetime.signal.aborted) throw new HeraldError(CoreErrors.closed, 'start(): the app was closed while starting', cause === undefined ? {} : { cause });
  }

  async function startAll(components: readonly Component[], prepare: () => Promise<void>): Promise<void> {
    throwIfClosing();
    await prepare();
    for (const component of components) {
      throwIfClosing();
      const stop = new AbortController();
      stops.set(component, stop);
      try {
        await component.start(stop.signal);
      } catch (error) {
        throwIfClosing(error);
        throw error;
      }
      if (closedBy === undefined) running.push(component);
      else await closeQuietly(component, Math.max(0, closedBy - clock.now()));
    }
    throwIfClosing();
    logger.info('herald app started', { components: running.map((c) => c.name) });
  }

  async function closeAll(deadlineMs: number): Promise<void> {
    const deadline = clock.now() + deadlineMs;
    const remaining = () => Math.max(0, deadline - clock.now());
    lifetime.abort(new HeraldError(CoreErrors.closed, 'app closing'));
    if (starting) {
      // the component starting may give up (its signal says it is about to be closed); the start then stops
      for (const [component, stop] of stops) if (!running.includes(component)) stop.abort(new HeraldError(CoreErrors.closed, `${component.name} closing`));
      await settlesWithin(clock, starting, remaining());
    }
    closedBy = deadline;
    for (const phase of deps.closeOrder(running)) await Promise.all(phase.map((component) => closeQuietly(component, remaining())));
    await deps.closeEngine();
    logger.info('herald app closed');
  }

  async function closeQuietly(component: Component, deadlineMs: number): Promise<void> {
    stops.get(component)?.abort(new HeraldError(CoreErrors.closed, `${component.name} closing`));
    // through a promise: a component's close may throw at once or return nothing (plain JavaScript)
    const closed = Promise.resolve()
      .then(() => component.close({ deadlineMs }))
      .catch((error: unknown) => logger.error('component failed to close', { component: component.name, error }));
    // a component that overruns its deadline (a user's, or one waiting on code that never returns)
    // must not hold the rest of the close for ever
    if (!(await settlesWithin(clock, closed, deadlineMs + CLOSE_OVERRUN_MS))) {
      logger.error('component did not close within its deadline; closing the rest without it', { component: component.name, deadlineMs });
    }
  }

  return {
    signal: lifetime.signal,
    start(components, prepare) {
      starting = startAll(components, prepare);
      return starting;
    },
    async ready() {
      const closed = new Promise<never>((_, reject) => {
        if (lifetime.signal.aborted) reject(lifetime.signal.reason);
        lifetime.signal.addEventListener('abort', () => reject(lifetime.signal.reason), { once: true });
      });
      closed.catch(() => {});
      await Promise.race([Promise.all(running.map((c) => c.ready?.())), closed]);
    },
    close(deadlineMs) {
      closing ??= closeAll(deadlineMs);
      return closing;
    },
  };
}
