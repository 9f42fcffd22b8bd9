import type { Delivery } from '../broker.js';
import { ErrorCodes, HeraldError } from '../errors.js';
import type { HandlerContext, Publish } from '../handler.js';
import type { Logger } from '../logger.js';
import type { DeliveryState } from './state.js';

/** Something the consumer can abort when it stops: an attempt in flight. */
export interface Abortable {
  abort(reason: unknown): void;
}

/**
 * One attempt's abort state. The AbortSignal handlers see is made only if a handler asks for it:
 * most never do, and an AbortController per attempt is measurable on the hot path.
 */
export class AttemptSignal implements Abortable {
  private controller: AbortController | undefined;
  private reason: unknown;
  private done = false;

  constructor(private readonly outer: AbortSignal) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.reason);
      else if (this.outer.aborted) this.controller.abort(this.outer.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.done || this.outer.aborted;
  }

  get abortReason(): unknown {
    return this.done ? this.reason : this.outer.reason;
  }

  abort(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

export interface RuntimeContextInit {
  readonly logger: Logger;
  readonly group: string;
  readonly handler: string;
  readonly delivery: Delivery;
  readonly redrive: boolean;
  readonly stop: AbortSignal;
  readonly state: DeliveryState;
}

/**
 * The context the consumer runtime builds for each delivery. A class so the policies can make
 * their variations (a new attempt, a transaction, a deadline) with one monomorphic copy instead of
 * prototype tricks; `tx` and `publish` exist only inside the inbox transaction.
 */
export class RuntimeContext<Tx> implements HandlerContext<Tx> {
  attempt = 1;
  logger: Logger;
  readonly group: string;
  readonly handler: string;
  readonly delivery: Delivery;
  readonly redrive: boolean;
  readonly state: DeliveryState;
  txValue: Tx | undefined;
  publishValue: Publish | undefined;
  /** Builds `publish` on first use (many handlers never publish); shared by copies. */
  lazyPublish: { value?: Publish; readonly make: () => Publish } | undefined;
  attemptSignal: AttemptSignal | undefined;
  stopSignal: AbortSignal;

  constructor(init: RuntimeContextInit | RuntimeContext<Tx>) {
    this.logger = init.logger;
    this.group = init.group;
    this.handler = init.handler;
    this.delivery = init.delivery;
    this.redrive = init.redrive;
    this.state = init.state;
    if (init instanceof RuntimeContext) {
      this.attempt = init.attempt;
      this.txValue = init.txValue;
      this.publishValue = init.publishValue;
      this.lazyPublish = init.lazyPublish;
      this.attemptSignal = init.attemptSignal;
      this.stopSignal = init.stopSignal;
    } else {
      this.stopSignal = init.stop;
    }
  }

  get tx(): Tx {
    if (this.txValue === undefined) throw outside('tx', this.group);
    return this.txValue;
  }

  get publish(): Publish {
    if (this.publishValue !== undefined) return this.publishValue;
    if (this.lazyPublish) return (this.lazyPublish.value ??= this.lazyPublish.make());
    throw outside('publish', this.group);
  }

  get signal(): AbortSignal {
    return this.attemptSignal ? this.attemptSignal.signal : this.stopSignal;
  }

  /** Whether the attempt was aborted, without materialising its AbortSignal. */
  get aborted(): boolean {
    return this.attemptSignal ? this.attemptSignal.aborted : this.stopSignal.aborted;
  }

  get abortReason(): unknown {
    return this.attemptSignal ? this.attemptSignal.abortReason : this.stopSignal.reason;
  }

  /** A copy with `overrides` applied (the fast path of `deriveContext`). */
  derive(overrides: Partial<HandlerContext<Tx>>): HandlerContext<Tx> {
    const next = new RuntimeContext<Tx>(this);
    for (const key of Object.keys(overrides) as (keyof HandlerContext<Tx>)[]) {
      const value = overrides[key];
      switch (key) {
        case 'attempt':
          next.attempt = value as number;
          break;
        case 'logger':
          next.logger = value as Logger;
          break;
        case 'tx':
          next.txValue = value as Tx;
          break;
        case 'publish':
          next.publishValue = value as Publish;
          break;
        case 'signal':
          next.attemptSignal = undefined;
          next.stopSignal = value as AbortSignal;
          break;
        default:
          return slowDerive(this, overrides);
      }
    }
    return next;
  }

  /** A copy inside a transaction: `tx` now, `publish` built by `make` if the handler asks for it. */
  withTransaction(tx: Tx, lazyPublish: { value?: Publish; readonly make: () => Publish }): RuntimeContext<Tx> {
    const next = new RuntimeContext<Tx>(this);
    next.txValue = tx;
    next.lazyPublish = lazyPublish;
    return next;
  }

  /** A copy for one attempt with its own abort state. */
  withAttempt(attemptSignal: AttemptSignal): RuntimeContext<Tx> {
    const next = new RuntimeContext<Tx>(this);
    next.attemptSignal = attemptSignal;
    return next;
  }
}

/** Whether `ctx` is exactly a runtime context (not a user's object derived from one). */
export function isRuntimeContext<Tx>(ctx: HandlerContext<Tx>): ctx is RuntimeContext<Tx> {
  return Object.getPrototypeOf(ctx) === RuntimeContext.prototype;
}

/** Whether the context's attempt was aborted (timeout, or the consumer stopping). */
export function isAborted(ctx: HandlerContext<unknown>): boolean {
  return isRuntimeContext(ctx) ? ctx.aborted : ctx.signal.aborted;
}

export function abortReasonOf(ctx: HandlerContext<unknown>): unknown {
  return isRuntimeContext(ctx) ? ctx.abortReason : ctx.signal.reason;
}

/** The general path: a context reading through to `base` with `overrides` as own properties. */
export function slowDerive<Tx>(base: HandlerContext<Tx>, overrides: Partial<HandlerContext<Tx>>): HandlerContext<Tx> {
  const derived = Object.create(base) as HandlerContext<Tx>;
  // defineProperty, not assignment: `tx` and `publish` are getters on the runtime context
  for (const key of Object.keys(overrides) as (keyof HandlerContext<Tx>)[]) {
    Object.defineProperty(derived, key, { value: overrides[key], enumerable: true });
  }
  return derived;
}

function outside(what: string, group: string): HeraldError {
  return new HeraldError(ErrorCodes.invalidOptions, `ctx.${what} is only available inside the handler's transaction (group ${group})`);
}
