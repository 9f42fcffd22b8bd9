import type { Envelope } from '../model/envelope.js';
import { CoreErrors } from '../model/errorCodes.js';
import { HeraldError } from '../model/errors.js';
import { createEventRegistry, type EventDefinition } from '../model/events.js';
import { canEnsureTopics } from '../ports/broker.js';
import { systemClock } from '../ports/clock.js';
import { isHandlerService, type Component } from '../ports/component.js';
import type { Stores } from '../ports/stores/stores.js';
import { createInstrumentation } from '../ports/instrumentation.js';
import { jsonLogger } from '../ports/logger.js';
import type { BatchHandler, Handler, Publish } from '../pipeline/handler.js';
import { bindPublisher } from '../pipeline/publisher.js';
import { createRelay } from '../relay/relay.js';
import { hasTimers } from '../ports/stores/timers.js';
import { hasReadTransactions } from '../ports/stores/read.js';
import { createTimerScheduler, type TimerScheduler } from '../timers/scheduler.js';
import { createBatchDispatcher } from '../runtime/batchDispatcher.js';
import { createDispatcher, type GroupDispatchDeps } from '../runtime/dispatcher.js';
import { createGroupConsumer } from '../runtime/groupConsumer.js';
import { redriveLetters, type RedriveOptions } from '../runtime/redrive.js';
import { TransactionBatcher } from '../runtime/transactionBatcher.js';
import { APP_DEFAULTS, closeDeadline, groupName, resolveGroupOptions, validateAppOptions } from './options.js';
import { createDirectPublisher } from './directPublisher.js';
import { createHandlerRegistry } from './handlerRegistry.js';
import { createLifecycle } from './lifecycle.js';
import { closeOnSignals } from './signals.js';
import type { App, AppOptions, GroupSubscription, HandlerOptions, StartOptions, TransactionWork } from './types.js';

/**
 * Creates a Herald application over one engine (a broker and its stores). The options are checked
 * here: a bad value, or a key that is no option (the keys an engine object carries aside), throws
 * `invalid-options` naming it.
 *
 * @example
 * const app = createApp({ ...sqliteEngine({ dataDir: '.herald' }) });
 * app.on(OrderCreated, { group: 'billing' }, async (event, ctx) => {
 *   await ctx.tx.execute('INSERT INTO invoices (order_id) VALUES ($1)', [event.data.orderId]);
 *   await ctx.publish(InvoiceIssued, { orderId: event.data.orderId });
 * });
 * await app.start();
 * await app.publish(OrderCreated, { orderId: 'o-1' });
 */
export function createApp<Tx>(options: AppOptions<Tx>): App<Tx> {
  validateAppOptions(options);
  const { broker, stores } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? jsonLogger({ fields: options.name ? { service: options.name } : {} });
  const instrumentation = createInstrumentation();
  const maxEventBytes = options.maxEventBytes ?? APP_DEFAULTS.maxEventBytes;
  const registry = createEventRegistry(options.events ?? []);
  const extra: Component[] = [];
  /** The relay and the consumer groups' components of the start, once it made them. */
  const builtIn: { relay?: Component; readonly groups: Set<Component> } = { groups: new Set() };
  let started = false;

  const storeTimers = hasTimers<Stores<Tx>, Tx>(stores) ? stores.timers : undefined;
  if (!storeTimers && options.timers) throw new HeraldError(CoreErrors.invalidOptions, 'createApp: timers options were given, but the stores have no timer store');
  /** The scheduler of due timers (when the stores have timers and it is not turned off); runs once started. */
  const scheduler: TimerScheduler | undefined =
    storeTimers && options.timers !== false ? createTimerScheduler({ timers: storeTimers, clock, logger: logger.child({ component: 'timers' }), instrumentation }, options.timers ?? {}) : undefined;
  const timers = storeTimers;
  // once a transaction that scheduled timers commits, the scheduler wakes for them (woken inside
  // it, its round could not see them yet, and it would sleep a whole poll interval)
  const onScheduled = scheduler ? (dueAt: number) => scheduler.wake(dueAt) : undefined;

  const lifecycle = createLifecycle({
    clock,
    logger,
    // the components users added first (the last added first), then the consumer groups together,
    // then what their handlers call (the last added first); then the scheduler and the relay, so
    // what the groups and the scheduler wrote is published. Built-in components are known by
    // reference: a user's component may share a name with one
    closeOrder(running) {
      const groupsRunning = running.filter((c) => builtIn.groups.has(c));
      const added = running.filter((c) => c !== builtIn.relay && c !== scheduler && !builtIn.groups.has(c)).reverse();
      const last = [scheduler, builtIn.relay].filter((c): c is Component => c !== undefined && running.includes(c));
      const alone = (components: readonly Component[]) => components.map((c) => [c]);
      return [...alone(added.filter((c) => !isHandlerService(c))), groupsRunning, ...alone(added.filter(isHandlerService)), ...alone(last)];
    },
    async closeEngine() {
      try {
        await broker.close();
      } finally {
        await stores.close();
      }
    },
  });

  const handlers = createHandlerRegistry({ options, registry, stores, clock, instrumentation, logger, maxEventBytes, timers, onScheduled });
  const { groups } = handlers;

  const appTransactions = new TransactionBatcher(stores, options.transactionBatch ?? APP_DEFAULTS.transactionBatch, 'serial');
  const publisherDeps = { outbox: stores.outbox, clock, instrumentation, maxEventBytes, timers, onScheduled };

  const transaction = async <T>(work: TransactionWork<Tx, T>): Promise<T> => {
    let committed: (() => void) | undefined;
    const result = await appTransactions.transaction(async (tx) => {
      const publisher = bindPublisher(publisherDeps, tx);
      const value = await work(tx, publisher.publish);
      committed = publisher.committed;
      return value;
    });
    committed?.();
    return result;
  };

  // not through the batcher: a read shares no transaction with anything
  const read = <T>(work: (tx: Tx) => Promise<T>): Promise<T> => (hasReadTransactions<Stores<Tx>, Tx>(stores) ? stores.read(work) : stores.transaction(work));

  const publish = ((definition, data, publishOptions) => transaction((_tx, inTx) => inTx(definition, data, publishOptions))) as Publish;
  publish.many = (definition, items, publishOptions) => transaction((_tx, inTx) => inTx.many(definition, items, publishOptions));
  const publishDirect = createDirectPublisher({ broker, clock, instrumentation, maxEventBytes, closed: lifecycle.signal });
  publish.schedule = (definition, data, scheduleOptions) => transaction((_tx, inTx) => inTx.schedule(definition, data, scheduleOptions));
  publish.cancelTimer = (timerId) => transaction((_tx, inTx) => inTx.cancelTimer(timerId));

  function groupDeps(group: string): GroupDispatchDeps<Tx> {
    return {
      group,
      registry,
      handlers: groups.get(group) ?? new Map(),
      stores,
      clock,
      instrumentation,
      logger: logger.child({ group }),
      defaultPolicy: options.handlerDefaults?.deadLetter ?? APP_DEFAULTS.handler.deadLetter,
      maxEventBytes,
      timers,
      onScheduled,
    };
  }

  /** What `group` reads: the topics of its handlers' events and its start; the consumer subscribes with these. */
  function subscriptionOf(group: string): GroupSubscription {
    const entries = groups.get(group);
    if (!entries) throw new HeraldError(CoreErrors.invalidOptions, `no handlers registered for group ${group}`);
    const topics = [...new Set([...entries.values()].flatMap((entry) => entry.definitions.map((d) => d.topic)))];
    return { group, topics, start: resolveGroupOptions(group, options.groups?.[group]).start };
  }

  function groupComponent(group: string): Component {
    const { topics, start } = subscriptionOf(group);
    const { transactionBatch: _batch, start: _start, ...settings } = resolveGroupOptions(group, options.groups?.[group]);
    const deps = groupDeps(group);
    const batchMode = [...deps.handlers.values()].some((entry) => entry.batch !== undefined);
    const consumer = createGroupConsumer({
      group,
      topics,
      start,
      broker,
      dispatch: createDispatcher(deps),
      ...(batchMode ? { dispatchBatch: createBatchDispatcher(deps) } : {}),
      ...settings,
      stopDeadlineMs: options.closeDeadlineMs ?? APP_DEFAULTS.closeDeadlineMs,
      clock,
      logger: logger.child({ group }),
      instrumentation,
    });
    return { name: `group:${group}`, start: () => consumer.start(), ready: () => consumer.ready(), close: ({ deadlineMs }) => consumer.close(deadlineMs) };
  }

  function selectGroups(selection: StartOptions['groups']): string[] {
    if (selection === false) return [];
    if (selection === undefined || selection === true) return [...groups.keys()];
    return [...selection];
  }

  /** The components a start runs, in start order. */
  function componentsFor(startOptions: StartOptions): Component[] {
    const selected = selectGroups(startOptions.groups);
    selected.forEach(groupName);
    const components: Component[] = [];
    if (options.relay !== false && (startOptions.relay ?? true)) {
      const relayLogger = logger.child({ component: 'relay' });
      builtIn.relay = options.relayHost
        ? options.relayHost.createRelay(options.relay || {}, { instrumentation, logger: relayLogger })
        : createRelay({ outbox: stores.outbox, broker, stores, clock, logger: relayLogger, instrumentation }, options.relay || {});
      components.push(builtIn.relay);
    }
    if (scheduler && (startOptions.timers ?? true)) components.push(scheduler);
    components.push(...extra.filter(isHandlerService));
    for (const group of selected) {
      const component = groupComponent(group);
      builtIn.groups.add(component);
      components.push(component);
    }
    components.push(...extra.filter((c) => !isHandlerService(c)));
    return components;
  }

  /** Closes the app when `signal` aborts (at once if it has) and, if asked, on SIGTERM and SIGINT: during the start too. */
  function closeWhenTold(startOptions: StartOptions): void {
    // nobody awaits this close: its failure is logged, not left an unhandled rejection
    const closeLogged = () => void app.close().catch((error: unknown) => logger.error('herald app failed to close', { error }));
    const { signal } = startOptions;
    if (signal?.aborted) closeLogged();
    else signal?.addEventListener('abort', closeLogged, { once: true });
    if (startOptions.handleSignals) closeOnSignals(() => app.close(), { logger });
  }

  const app: App<Tx> = {
    on(definitionOrList, handlerOptions: HandlerOptions<Tx>, handler) {
      handlers.on(definitionOrList as EventDefinition | readonly EventDefinition[], handlerOptions, handler as Handler<Envelope, Tx>);
      return app;
    },

    onBatch(definitionOrList, handlerOptions: HandlerOptions<Tx>, handler) {
      handlers.onBatch(definitionOrList as EventDefinition | readonly EventDefinition[], handlerOptions, handler as BatchHandler<Envelope, Tx>);
      return app;
    },

    use(component) {
      if (started) throw new HeraldError(CoreErrors.invalidOptions, 'add components before start()');
      if (!component || typeof component.start !== 'function' || typeof component.close !== 'function') {
        throw new HeraldError(CoreErrors.invalidOptions, 'use(): a component needs start() and close()');
      }
      if (extra.some((c) => c.name === component.name)) throw new HeraldError(CoreErrors.invalidOptions, `use(): a component named "${component.name}" was already added`);
      extra.push(component);
      return app;
    },

    transaction,
    read,
    publish,
    publishDirect,

    async start(startOptions: StartOptions = {}) {
      if (started) throw new HeraldError(CoreErrors.invalidOptions, 'start() was already called');
      started = true;
      handlers.seal();
      const components = componentsFor(startOptions);
      closeWhenTold(startOptions);
      // the topics the app declares are provisioned before any component starts
      await lifecycle.start(components, async () => {
        if (options.topics?.length && canEnsureTopics(broker)) await broker.ensureTopics(options.topics);
      });
    },

    async ready() {
      if (!started) throw new HeraldError(CoreErrors.invalidOptions, 'ready(): call start() first');
      await lifecycle.ready();
    },

    close(closeOptions = {}) {
      let deadlineMs: number;
      try {
        deadlineMs = closeDeadline(closeOptions.deadlineMs ?? options.closeDeadlineMs ?? APP_DEFAULTS.closeDeadlineMs);
      } catch (error) {
        return Promise.reject(error);
      }
      return lifecycle.close(deadlineMs);
    },

    redrive(redriveOptions: RedriveOptions) {
      if (!groups.has(redriveOptions?.group)) throw new HeraldError(CoreErrors.invalidOptions, `no handlers registered for group ${redriveOptions?.group}`);
      return redriveLetters(groupDeps(redriveOptions.group), redriveOptions);
    },

    deadLetters: (filter) => stores.deadLetters.list(filter),
    instrumentation,
    stores,
    broker,
    logger,
    clock,
    handlerDefaults: options.handlerDefaults ?? {},
    get events() {
      return registry.all();
    },
    get groups() {
      return [...groups.keys()];
    },
    get subscriptions() {
      return [...groups.keys()].map(subscriptionOf);
    },
  };

  return app;
}
