import type { Envelope } from '../model/envelope.js';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { assertEventDefinition, type EventDefinition, type EventRegistry } from '../model/events.js';
import type { BatchContext, BatchHandler, Handler, HandlerContext } from '../pipeline/handler.js';
import { defaultPipeline, policyStep, type PolicyEnv, type Pipeline } from '../pipeline/preset.js';
import type { HandlerEntry } from '../runtime/dispatcher.js';
import { TransactionBatcher } from '../runtime/transactionBatcher.js';
import { resolveGroupOptions, resolveHandlerSettings } from './options.js';
import type { AppOptions, HandlerOptions } from './types.js';

/**
 * What handlers are built with: the app's options and event registry, and the policy environment
 * its handlers share (`logger` is the app's: each handler gets it bound to its group).
 */
export interface HandlerRegistryDeps<Tx> extends Omit<PolicyEnv<Tx>, 'transactions' | 'handler'> {
  readonly options: AppOptions<Tx>;
  /** Each handler's definitions are registered in it. */
  readonly registry: EventRegistry;
}

/** The handlers of an app, per consumer group, each in its pipeline; open until the app starts. */
export interface HandlerRegistry<Tx> {
  /** Registers an event handler (see `App.on`); throws `invalid-options` for bad input. */
  on(definitionOrList: EventDefinition | readonly EventDefinition[], handlerOptions: HandlerOptions<Tx>, handler: Handler<Envelope, Tx>): void;
  /** Registers a batch handler (see `App.onBatch`); throws `invalid-options` for bad input. */
  onBatch(definitionOrList: EventDefinition | readonly EventDefinition[], handlerOptions: HandlerOptions<Tx>, handler: BatchHandler<Envelope, Tx>): void;
  /** Refuses every later registration: the app started. */
  seal(): void;
  /** Per consumer group, in registration order: its handler of each event type. */
  readonly groups: ReadonlyMap<string, ReadonlyMap<string, HandlerEntry<Tx>>>;
}

/**
 * Builds each handler registered into its pipeline (the app's, group's and handler's edits; the
 * handler's `middleware` just outside `transaction`) over the transactions it runs in: its
 * group's transaction batcher, or the stores themselves for a batch handler. A group holds event
 * handlers or batch handlers, one handler per event type.
 */
export function createHandlerRegistry<Tx>(deps: HandlerRegistryDeps<Tx>): HandlerRegistry<Tx> {
  const { options, registry, stores, clock, instrumentation, logger, maxEventBytes, timers, onScheduled } = deps;
  const groups = new Map<string, Map<string, HandlerEntry<Tx>>>();
  const batchers = new Map<string, TransactionBatcher<Tx>>();
  let sealed = false;

  const batcherOf = (group: string) => {
    let batcher = batchers.get(group);
    if (!batcher) {
      const size = resolveGroupOptions(group, options.groups?.[group]).transactionBatch;
      batcher = new TransactionBatcher(stores, size, 'concurrent', `groups.${group}.transactionBatch`);
      batchers.set(group, batcher);
    }
    return batcher;
  };

  /** The app's edit, then the group's, then the handler's; the handler's `middleware` goes just outside `transaction`. */
  function pipelineFor(handlerOptions: HandlerOptions<Tx>): Pipeline<Tx> {
    let pipeline = defaultPipeline<Tx>();
    const middleware = [...(options.handlerDefaults?.middleware ?? []), ...(handlerOptions.middleware ?? [])];
    if (middleware.length > 0) {
      const steps = middleware.map((m, i) => policyStep<Tx>(`middleware-${i + 1}`, m));
      pipeline = pipeline.has('transaction') ? pipeline.insertBefore('transaction', ...steps) : pipeline.append(...steps);
    }
    for (const owner of [options, options.groups?.[handlerOptions.group], handlerOptions]) {
      if (owner?.pipeline) pipeline = owner.pipeline(pipeline);
    }
    return pipeline;
  }

  function register(
    definitionOrList: EventDefinition | readonly EventDefinition[],
    handlerOptions: HandlerOptions<Tx>,
    handler: Handler<Envelope, Tx>,
    batchHandler: BatchHandler<Envelope, Tx> | undefined,
  ): void {
    const where = batchHandler ? 'onBatch()' : 'on()';
    if (sealed) throw new HeraldError(CoreErrors.invalidOptions, 'register handlers before start()');
    const list = Array.isArray(definitionOrList);
    const definitions = (list ? definitionOrList : [definitionOrList]) as readonly EventDefinition[];
    if (definitions.length === 0) throw new HeraldError(CoreErrors.invalidOptions, `${where}: give at least one event definition`);
    definitions.forEach((definition, i) => assertEventDefinition(definition, list ? `${where}: definitions[${i}]` : `${where}: definition`));
    if (typeof handler !== 'function') throw new HeraldError(CoreErrors.invalidOptions, `${where}: the handler must be a function`);
    const settings = resolveHandlerSettings(where, handlerOptions, definitions.map((d) => d.type), options.handlerDefaults);
    const { group } = settings;
    const byType = groups.get(group) ?? new Map<string, HandlerEntry<Tx>>();
    const existing = byType.values().next().value as HandlerEntry<Tx> | undefined;
    if (existing && (existing.batch === undefined) !== (batchHandler === undefined)) {
      throw new HeraldError(CoreErrors.invalidOptions, `group ${group} mixes event handlers and batch handlers; give each kind its own group`);
    }
    // a batch's events share one transaction: the group's transaction batching does not apply to it
    const runner = batchHandler ? stores : batcherOf(group);
    const env: PolicyEnv<Tx> = { stores, transactions: runner, clock, instrumentation, logger: logger.child({ group }), maxEventBytes, handler: settings, timers, onScheduled };
    const pipeline = pipelineFor(handlerOptions);
    const entry: HandlerEntry<Tx> = {
      name: settings.name,
      group,
      definitions,
      policy: settings.deadLetter,
      pipeline: pipeline.build(env, handler),
      ...(batchHandler ? { batch: { handler: pipeline.buildBatch(env, batchHandler), timeoutMs: settings.timeoutMs } } : {}),
    };
    for (const definition of definitions) {
      const other = byType.get(definition.type)?.definitions.find((d) => d.type === definition.type);
      if (other) {
        // one handler reads one version of a type: an earlier one comes to it through the upcast
        const versions = other.version === definition.version ? '' : ` (version ${other.version}; give the handler the newest version, which reads earlier ones through its upcast)`;
        throw new HeraldError(CoreErrors.invalidOptions, `group ${group} already handles ${definition.type}${versions}`);
      }
      registry.register(definition);
      byType.set(definition.type, entry);
    }
    groups.set(group, byType);
  }

  return {
    on(definitionOrList, handlerOptions, handler) {
      register(definitionOrList, handlerOptions, handler, undefined);
    },
    onBatch(definitionOrList, handlerOptions, batchHandler) {
      if (typeof batchHandler !== 'function') throw new HeraldError(CoreErrors.invalidOptions, 'onBatch(): the handler must be a function');
      // alone (a failed batch's events, a redrive): the event in its full pipeline, as a batch of one
      const alone: Handler<Envelope, Tx> = (event, ctx) => batchHandler([event], batchContextOf(ctx));
      register(definitionOrList, handlerOptions, alone, batchHandler);
    },
    seal() {
      sealed = true;
    },
    groups,
  };
}

/** The batch context of one event handled alone, through its pipeline. */
function batchContextOf<Tx>(ctx: HandlerContext<Tx>): BatchContext<Tx> {
  return {
    tx: ctx.tx,
    publish: ctx.publish,
    logger: ctx.logger,
    group: ctx.group,
    handler: ctx.handler,
    get signal() {
      return ctx.signal;
    },
    deliveries: [ctx.delivery],
    alone: true,
    attempt: ctx.attempt,
  };
}
