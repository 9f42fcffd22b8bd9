import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Delivery } from '../ports/broker.js';
import type { InstrumentationEvent } from '../ports/instrumentation.js';
import { silentLogger, type Logger } from '../ports/logger.js';
import { createDeliveryState, type DeliveryState } from './deliveryState.js';
import type { AttemptScope, ContextOverrides, HandlerContext, Publish } from './handler.js';

/** What {@link createHandlerContext} takes. */
export interface HandlerContextInit {
  readonly group: string;
  readonly handler: string;
  readonly delivery: Delivery;
  /** Default: a logger that drops everything. */
  readonly logger?: Logger;
  /** Default false. */
  readonly redrive?: boolean;
  /** Default: a fresh state whose `closing` never aborts. */
  readonly state?: DeliveryState;
  /** Aborted when the consumer stops for good (past its close deadline); every attempt's signal follows it. */
  readonly stop?: AbortSignal;
}

const NEVER = new AbortController().signal;

/**
 * Creates the context of one delivery: what the consumer runtime passes to a handler's pipeline,
 * and what a test uses to drive a policy or a handler directly.
 *
 * @example
 * const ctx = createHandlerContext({ group: 'billing', handler: 'billing:OrderPlaced', delivery });
 * await myPolicy(handler)(event, ctx);
 * expect(ctx.state.outcome).toBe('applied');
 */
export function createHandlerContext<Tx = unknown>(init: HandlerContextInit): HandlerContext<Tx> {
  return new RuntimeContext<Tx>(init);
}

/**
 * One attempt's abort state. The AbortSignal a handler sees is made only if it asks for it: most
 * never do, and an AbortController (and a listener on the consumer's shared stop signal) per
 * attempt is measurable on the hot path. `aborted` reads through to the outer source instead.
 */
class AttemptSignal {
  private controller: AbortController | undefined;
  private reason: unknown;
  private done = false;
  private children: Set<AttemptSignal> | undefined;
  private listeners: (() => void)[] | undefined;
  private linked = false;
  /** Its work returned unaborted and its transaction is committing (see {@link setCommitting}). */
  committing = false;

  constructor(private readonly outer: AbortSignal | AttemptSignal) {}

  /** Sets whether this attempt, and every attempt it runs inside, is committing. */
  setCommitting(committing: boolean): void {
    this.committing = committing;
    if (this.outer instanceof AttemptSignal) this.outer.setCommitting(committing);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
      else this.linkToAttempts();
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.done || this.outer.aborted;
  }

  get abortReason(): unknown {
    return this.done ? this.reason : this.outer instanceof AttemptSignal ? this.outer.abortReason : this.outer.reason;
  }

  abort(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reason = reason;
    this.controller?.abort(reason);
    this.children?.forEach((child) => child.abort(reason));
    this.listeners?.forEach((listener) => listener());
  }

  /**
   * Calls `listener` once when this attempt, or an attempt it runs inside, aborts (a timeout), or
   * the consumer's stop signal does (past its close deadline), and at once if one has. The stop
   * signal is followed through one listener for all its attempts (see {@link followStop}).
   */
  onAbort(listener: () => void): void {
    if (this.aborted) return listener();
    (this.listeners ??= []).push(listener);
    this.linkToAttempts();
  }

  /** From now on an abort of the outer source reaches this attempt (through every level; the consumer's stop signal through {@link followStop}). */
  private linkToAttempts(): void {
    if (this.linked) return;
    this.linked = true;
    const outer = this.outer;
    if (outer instanceof AttemptSignal) {
      // an enclosing attempt already over tells its children no more: this one ends with it
      if (outer.aborted) return this.abort(outer.abortReason);
      (outer.children ??= new Set()).add(this);
      outer.linkToAttempts();
    } else if (outer !== NEVER) {
      followStop(outer, this);
    }
  }

  /** Stops following the outer source (the attempt settled). */
  end(): void {
    const outer = this.outer;
    if (outer instanceof AttemptSignal) outer.children?.delete(this);
    else if (this.linked) stopFollowers.get(outer)?.delete(this);
  }
}

/** The attempts following each consumer stop signal through `onAbort`: one listener per signal, not one per attempt. */
const stopFollowers = new WeakMap<AbortSignal, Set<AttemptSignal>>();

function followStop(stop: AbortSignal, attempt: AttemptSignal): void {
  if (stop.aborted) return attempt.abort(stop.reason);
  let followers = stopFollowers.get(stop);
  if (!followers) {
    const all = new Set<AttemptSignal>();
    followers = all;
    stopFollowers.set(stop, all);
    stop.addEventListener('abort', () => all.forEach((follower) => follower.abort(stop.reason)), { once: true });
  }
  followers.add(attempt);
}

/**
 * The context implementation. A class so the policies make their variations (a new attempt, a
 * transaction, a deadline) with one monomorphic copy.
 */
class RuntimeContext<Tx> implements HandlerContext<Tx> {
  attempt: number;
  logger: Logger;
  readonly group: string;
  readonly handler: string;
  readonly delivery: Delivery;
  readonly redrive: boolean;
  readonly state: DeliveryState;
  private txValue: Tx | undefined;
  private publishValue: Publish | undefined;
  private factsValue: InstrumentationEvent[] | undefined;
  private abortSource: AbortSignal | AttemptSignal;

  constructor(init: HandlerContextInit | RuntimeContext<Tx>) {
    this.group = init.group;
    this.handler = init.handler;
    this.delivery = init.delivery;
    if (init instanceof RuntimeContext) {
      this.attempt = init.attempt;
      this.logger = init.logger;
      this.redrive = init.redrive;
      this.state = init.state;
      this.txValue = init.txValue;
      this.publishValue = init.publishValue;
      this.factsValue = init.factsValue;
      this.abortSource = init.abortSource;
    } else {
      this.attempt = 1;
      this.logger = init.logger ?? silentLogger;
      this.redrive = init.redrive ?? false;
      this.state = init.state ?? createDeliveryState();
      this.abortSource = init.stop ?? NEVER;
    }
  }

  get tx(): Tx {
    if (this.txValue === undefined) throw outside('tx', this.handler);
    return this.txValue;
  }

  get publish(): Publish {
    if (this.publishValue === undefined) throw outside('publish', this.handler);
    return this.publishValue;
  }

  get signal(): AbortSignal {
    return this.abortSource instanceof AttemptSignal ? this.abortSource.signal : this.abortSource;
  }

  get aborted(): boolean {
    return this.abortSource.aborted;
  }

  throwIfAborted(): void {
    const source = this.abortSource;
    if (source instanceof AttemptSignal) {
      if (source.aborted) throw source.abortReason;
    } else if (source.aborted) {
      throw source.reason;
    }
  }

  emitAfterCommit(fact: InstrumentationEvent): void {
    if (this.factsValue === undefined) throw outside('emitAfterCommit', this.handler);
    this.factsValue.push(fact);
  }

  with(overrides: ContextOverrides<Tx>): HandlerContext<Tx> {
    const next = new RuntimeContext<Tx>(this);
    if (overrides.tx !== undefined) next.txValue = overrides.tx;
    if (overrides.publish !== undefined) next.publishValue = overrides.publish;
    if (overrides.facts !== undefined) next.factsValue = overrides.facts;
    if (overrides.attempt !== undefined) next.attempt = overrides.attempt;
    if (overrides.logger !== undefined) next.logger = overrides.logger;
    if (overrides.signal !== undefined) next.abortSource = overrides.signal;
    return next;
  }

  /** What aborts this context's attempt (for {@link untilAttemptAborted}). */
  abortSourceOf(): AbortSignal | AttemptSignal {
    return this.abortSource;
  }

  beginAttempt(): AttemptScope<Tx> {
    const attempt = new AttemptSignal(this.abortSource);
    const ctx = new RuntimeContext<Tx>(this);
    ctx.abortSource = attempt;
    return {
      ctx,
      abort: (reason) => attempt.abort(reason),
      end: () => attempt.end(),
      get committing() {
        return attempt.committing;
      },
    };
  }
}

/**
 * `work`'s outcome, or a rejection with the abort reason as soon as the attempt `ctx` runs in is
 * aborted (its timeout), whichever comes first: the caller stops waiting for a handler that
 * ignores its signal (it runs on, and its late rejection is dropped). On a context not made here,
 * `work` itself.
 */
export function untilAttemptAborted<T>(ctx: HandlerContext<unknown>, work: Promise<T>): Promise<T> {
  if (!(ctx instanceof RuntimeContext)) return work;
  const source = ctx.abortSourceOf();
  if (!(source instanceof AttemptSignal)) return work;
  return new Promise<T>((resolve, reject) => {
    work.then(resolve, reject);
    source.onAbort(() => reject(source.abortReason));
  });
}

/**
 * Tells the attempts `ctx` runs in (their timeouts) whether its transaction is committing: true once
 * its work returned and was not aborted — from then on the commit decides the attempt's outcome (see
 * {@link AttemptScope.committing}) — and false when the work runs (again). Set it synchronously
 * after the last abort check, so no deadline can pass between the two. On a context not made here,
 * nothing.
 */
export function setCommitting(ctx: HandlerContext<unknown>, committing: boolean): void {
  if (!(ctx instanceof RuntimeContext)) return;
  const source = ctx.abortSourceOf();
  if (source instanceof AttemptSignal) source.setCommitting(committing);
}

function outside(what: string, handler: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, `ctx.${what} is only available inside the transaction policy's scope (handler ${handler})`);
}
