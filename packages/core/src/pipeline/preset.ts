import type { Envelope } from '../model/envelope.js';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import type { Clock } from '../ports/clock.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { Logger } from '../ports/logger.js';
import type { DeadLetterPolicy } from '../ports/stores/deadLetters.js';
import type { Stores } from '../ports/stores/stores.js';
import { hasTimers, type TimerStore } from '../ports/stores/timers.js';
import type { TransactionRunner } from '../ports/stores/transaction.js';
import { compose, type BatchHandler, type BatchMiddleware, type Handler, type Middleware } from './handler.js';
import { correlation } from './policies/correlation.js';
import { deadLetter } from './policies/deadLetter.js';
import { inbox } from './policies/inbox.js';
import { instrument } from './policies/instrument.js';
import { recover } from './policies/recover.js';
import { retry, RETRY_DEFAULTS, type RetryOptions } from './policies/retry.js';
import { timeout } from './policies/timeout.js';
import { transaction } from './policies/transaction.js';

/** One handler's resolved settings, as the policies of its pipeline see them. */
export interface HandlerSettings {
  readonly name: string;
  readonly group: string;
  readonly retry: RetryOptions;
  /** Per-attempt deadline. */
  readonly timeoutMs: number;
  readonly deadLetter: DeadLetterPolicy;
}

/** What a step gets to build its middleware for one handler. */
export interface PolicyEnv<Tx> {
  readonly stores: Stores<Tx>;
  /** Where the handler's transactions run: the stores, or the group's batcher in front of them. */
  readonly transactions: TransactionRunner<Tx>;
  readonly clock: Clock;
  readonly instrumentation: Instrumentation;
  readonly logger: Logger;
  /** Largest serialised event `ctx.publish` accepts. */
  readonly maxEventBytes: number;
  /**
   * Where `ctx.publish.schedule` keeps timers: the app passes the stores' timer store. Absent: the
   * stores' own, if they have one.
   */
  readonly timers?: TimerStore<Tx>;
  /** Told after a commit when the transaction scheduled timers: the app wakes its scheduler. */
  readonly onScheduled?: (dueAt: number) => void;
  readonly handler: HandlerSettings;
}

/** A named policy in a pipeline: builds its middleware once per handler. */
export interface PolicyStep<Tx = unknown> {
  readonly name: string;
  /** Names of steps that must run outside this one (listed before it) when it is present. */
  readonly requires?: readonly string[];
  create(env: PolicyEnv<Tx>): Middleware<Tx>;
  /**
   * The step's part in a batch handler's whole-batch path (`app.onBatch`), where the per-event
   * steps do not run: its middleware wraps the handler's call for the whole batch, inside the
   * batch's transaction. Optional: a step without one is skipped there (it still runs for each
   * event a failed batch hands to the one-by-one path). Steps with one run in pipeline order.
   */
  createBatch?(env: PolicyEnv<Tx>): BatchMiddleware<Tx>;
}

/**
 * Makes a step from a middleware, or from a function building one from the handler's environment.
 *
 * @example
 * const audit = policyStep('audit', (next) => async function auditHandler(event, ctx) {
 *   await next(event, ctx);
 *   ctx.logger.info('handled', { outcome: ctx.state.outcome });
 * });
 * app.on(OrderPlaced, { group: 'billing', pipeline: (p) => p.insertAfter('instrument', audit) }, handle);
 */
export function policyStep<Tx = unknown>(
  name: string,
  middleware: Middleware<Tx> | { create(env: PolicyEnv<Tx>): Middleware<Tx>; createBatch?(env: PolicyEnv<Tx>): BatchMiddleware<Tx>; requires?: readonly string[] },
): PolicyStep<Tx> {
  if (typeof name !== 'string' || name.length === 0) throw invalid('a policy step needs a non-empty name');
  if (typeof middleware === 'function') return { name, create: () => middleware };
  const { createBatch } = middleware;
  if (createBatch !== undefined && typeof createBatch !== 'function') throw invalid(`policy step "${name}": createBatch must be a function`);
  return { name, requires: middleware.requires, create: (env) => middleware.create(env), ...(createBatch ? { createBatch: (env: PolicyEnv<Tx>) => createBatch(env) } : {}) };
}

/**
 * An ordered list of policy steps around a handler, first listed outermost. Immutable: every edit
 * returns a new pipeline, so a preset can be shared and edited per app, group or handler.
 */
export interface Pipeline<Tx = unknown> {
  readonly steps: readonly PolicyStep<Tx>[];
  /** The step names, outermost first. */
  names(): readonly string[];
  has(name: string): boolean;
  /** Inserts steps just outside `name` (they run before it). */
  insertBefore(name: string, ...steps: readonly PolicyStep<Tx>[]): Pipeline<Tx>;
  /** Inserts steps just inside `name` (they run after it, before the steps it wrapped). */
  insertAfter(name: string, ...steps: readonly PolicyStep<Tx>[]): Pipeline<Tx>;
  replace(name: string, step: PolicyStep<Tx>): Pipeline<Tx>;
  remove(name: string): Pipeline<Tx>;
  /** Adds steps innermost, right around the handler. */
  append(...steps: readonly PolicyStep<Tx>[]): Pipeline<Tx>;
  /** Builds the handler wrapped in every step; checks each step's `requires`. */
  build(env: PolicyEnv<Tx>, handler: Handler<Envelope, Tx>): Handler<Envelope, Tx>;
  /** Builds a batch handler's whole-batch call wrapped in the steps that have a `createBatch`. */
  buildBatch(env: PolicyEnv<Tx>, handler: BatchHandler<Envelope, Tx>): BatchHandler<Envelope, Tx>;
}

/** A pipeline edit, as the `pipeline` option of an app, a group or a handler takes it. */
export type PipelineEdit<Tx> = (pipeline: Pipeline<Tx>) => Pipeline<Tx>;

/** Creates a pipeline of these steps (names must be unique). */
export function createPipeline<Tx = unknown>(steps: readonly PolicyStep<Tx>[]): Pipeline<Tx> {
  const names = steps.map((s) => s.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw invalid(`pipeline: step "${duplicate}" appears twice`);
  const indexOf = (name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) throw invalid(`pipeline: no step named "${name}" (steps: ${names.join(', ')})`);
    return i;
  };
  const splice = (at: number, removeCount: number, added: readonly PolicyStep<Tx>[]) => {
    const next = [...steps];
    next.splice(at, removeCount, ...added);
    return createPipeline(next);
  };
  return {
    steps,
    names: () => names,
    has: (name) => names.includes(name),
    insertBefore: (name, ...added) => splice(indexOf(name), 0, added),
    insertAfter: (name, ...added) => splice(indexOf(name) + 1, 0, added),
    replace: (name, step) => splice(indexOf(name), 1, [step]),
    remove: (name) => splice(indexOf(name), 1, []),
    append: (...added) => splice(steps.length, 0, added),
    build(env, handler) {
      steps.forEach((step, i) => {
        for (const required of step.requires ?? []) {
          const at = names.indexOf(required);
          if (at < 0 || at > i) throw invalid(`pipeline of ${env.handler.name}: step "${step.name}" must run inside "${required}" (steps: ${names.join(', ')})`);
        }
      });
      return compose<Tx>(...steps.map((step) => step.create(env)))(handler);
    },
    buildBatch(env, handler) {
      const wraps = steps.flatMap((step) => (step.createBatch ? [step.createBatch(env)] : []));
      return wraps.reduceRight<BatchHandler<Envelope, Tx>>((next, wrap) => wrap(next), handler);
    },
  };
}

/** The names of the built-in steps, in the default order. */
export const DEFAULT_STEPS = ['correlation', 'instrument', 'deadLetter', 'retry', 'timeout', 'recover', 'transaction', 'inbox'] as const;

/**
 * Herald's default pipeline, first listed outermost:
 * correlation → instrument → deadLetter → retry → timeout → recover → transaction → inbox → handler.
 * So: every line is logged with the event's ids; each delivery is measured once, after its
 * outcome is known; the dead-letter policy sees only final failures; each retry gets a fresh
 * deadline and a fresh transaction; and the inbox mark, the handler's writes and its outgoing
 * events commit together. A handler's `middleware` option goes just outside `transaction`.
 */
export function defaultPipeline<Tx>(): Pipeline<Tx> {
  return createPipeline<Tx>([
    { name: 'correlation', create: () => correlation<Tx>() },
    { name: 'instrument', create: (env) => instrument<Tx>(env) },
    { name: 'deadLetter', create: (env) => deadLetter<Tx>({ store: env.stores.deadLetters, policy: env.handler.deadLetter, clock: env.clock, instrumentation: env.instrumentation }) },
    { name: 'retry', create: (env) => retry<Tx>({ ...RETRY_DEFAULTS, ...env.handler.retry, clock: env.clock, instrumentation: env.instrumentation }) },
    { name: 'timeout', create: (env) => timeout<Tx>({ timeoutMs: env.handler.timeoutMs, clock: env.clock }) },
    { name: 'recover', create: () => recover<Tx>() },
    { name: 'transaction', create: (env) => transaction<Tx>({ ...env, outbox: env.stores.outbox, timers: env.timers ?? (hasTimers<Stores<Tx>, Tx>(env.stores) ? env.stores.timers : undefined) }) },
    { name: 'inbox', requires: ['transaction'], create: (env) => inbox<Tx>({ inbox: env.stores.inbox, clock: env.clock }) },
  ]);
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
