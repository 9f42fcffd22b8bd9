import type { App, AppOptions, GroupOptions, HandlerOptions, RedriveOptions, StartOptions, TransactionWork } from './appTypes.js';
import { canEnsureTopics } from './broker.js';
import { systemClock } from './clock.js';
import { DEFAULT_MAX_EVENT_BYTES, type Envelope } from './envelope.js';
import { ErrorCodes, HeraldError } from './errors.js';
import { createEventRegistry, type EventDefinition } from './events.js';
import type { Handler, Publish } from './handler.js';
import { createInstrumentation } from './instrumentation.js';
import { createDispatcher, type GroupDispatchDeps } from './internal/dispatcher.js';
import { buildPipelines, type HandlerEntry } from './internal/handlerEntry.js';
import { bindPublisher } from './internal/publisher.js';
import { redriveLetters } from './internal/redrive.js';
import { TransactionBatcher } from './internal/transactionBatcher.js';
import { jsonLogger } from './logger.js';
import { createRelay, type Relay } from './relay.js';
import { createGroupConsumer, type GroupConsumer } from './runtime/groupConsumer.js';

const GROUP_DEFAULTS: Required<Omit<GroupOptions, 'transactionBatch'>> = { concurrency: 16, maxInFlight: 2000, commitIntervalMs: 200, start: 'earliest' };
/** Transactions per store transaction, for handlers and the app alike: off unless asked for (see GroupOptions.transactionBatch, AppOptions.transactionBatch). */
const DEFAULT_TRANSACTION_BATCH = 1;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_DEADLINE_MS = 10_000;
const GROUP_NAME = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Creates a Herald application over one engine (a broker and its stores).
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
  const { broker, stores } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? jsonLogger({ fields: options.name ? { service: options.name } : {} });
  const instrumentation = createInstrumentation();
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  if (!(maxEventBytes > 0)) throw new HeraldError(ErrorCodes.invalidOptions, `maxEventBytes must be positive, got ${maxEventBytes}`);
  const registry = createEventRegistry(options.events ?? []);
  const groups = new Map<string, Map<string, HandlerEntry<Tx>>>();
  const pipelineDeps = { stores, clock, instrumentation, maxEventBytes };
  const consumers: GroupConsumer[] = [];
  const batchers = new Map<string, TransactionBatcher<Tx>>();
  const batcherOf = (group: string) => {
    let batcher = batchers.get(group);
    if (!batcher) {
      const size = options.groups?.[group]?.transactionBatch ?? DEFAULT_TRANSACTION_BATCH;
      batcher = new TransactionBatcher(stores, size, 'concurrent', `groups.${group}.transactionBatch`);
      batchers.set(group, batcher);
    }
    return batcher;
  };
  let relay: Relay | undefined;
  let started = false;
  let closing: Promise<void> | undefined;

  function groupDeps(group: string): GroupDispatchDeps<Tx> {
    return {
      ...pipelineDeps,
      group,
      registry,
      handlers: groups.get(group) ?? new Map(),
      logger: logger.child({ group }),
      defaultPolicy: options.handlerDefaults?.deadLetter ?? 'skip',
    };
  }

  const appTransactions = new TransactionBatcher(stores, options.transactionBatch ?? DEFAULT_TRANSACTION_BATCH, 'serial');

  const transaction = async <T>(work: TransactionWork<Tx, T>): Promise<T> => {
    let committed: (() => void) | undefined;
    const result = await appTransactions.transaction(async (tx) => {
      const publisher = bindPublisher({ ...pipelineDeps, outbox: stores.outbox }, tx);
      const value = await work(tx, publisher.publish);
      committed = publisher.committed;
      return value;
    });
    committed?.();
    return result;
  };

  const publish: Publish = (definition, data, publishOptions) => transaction((_tx, inTx) => inTx(definition, data, publishOptions));

  const app: App<Tx> = {
    on(definitionOrList, handlerOptions: HandlerOptions<Tx>, handler) {
      if (started) throw new HeraldError(ErrorCodes.invalidOptions, 'register handlers before start()');
      const definitions = (Array.isArray(definitionOrList) ? definitionOrList : [definitionOrList]) as readonly EventDefinition[];
      const { group } = handlerOptions;
      if (!GROUP_NAME.test(group)) throw new HeraldError(ErrorCodes.invalidOptions, `group "${group}" must match ${GROUP_NAME}`);
      if (definitions.length === 0) throw new HeraldError(ErrorCodes.invalidOptions, 'on(): give at least one event definition');
      const defaults = options.handlerDefaults ?? {};
      const policy = {
        retry: { ...defaults.retry, ...handlerOptions.retry },
        timeoutMs: handlerOptions.timeoutMs ?? defaults.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        deadLetter: handlerOptions.deadLetter ?? defaults.deadLetter ?? 'skip',
        middleware: [...(defaults.middleware ?? []), ...(handlerOptions.middleware ?? [])],
      };
      const name = handlerOptions.name ?? `${group}:${definitions.map((d) => d.type).join('+')}`;
      const pipelines = buildPipelines(pipelineDeps, policy, handler as Handler<Envelope, Tx>, batcherOf(group));
      const entry: HandlerEntry<Tx> = { name, group, definitions, policy: policy.deadLetter, ...pipelines };
      const byType = groups.get(group) ?? new Map<string, HandlerEntry<Tx>>();
      for (const definition of definitions) {
        if (byType.has(definition.type)) throw new HeraldError(ErrorCodes.invalidOptions, `group ${group} already handles ${definition.type}`);
        registry.register(definition);
        byType.set(definition.type, entry);
      }
      groups.set(group, byType);
      return app;
    },

    transaction,
    publish,

    async start(startOptions: StartOptions = {}) {
      if (started) throw new HeraldError(ErrorCodes.invalidOptions, 'start() was already called');
      started = true;
      if (options.topics?.length && canEnsureTopics(broker)) await broker.ensureTopics(options.topics);
      if (startOptions.relay ?? true) {
        relay = createRelay({ outbox: stores.outbox, broker, stores, clock, logger: logger.child({ component: 'relay' }), instrumentation }, options.relay);
        relay.start();
      }
      for (const group of selectGroups(startOptions.groups)) {
        const handlers = groups.get(group);
        if (!handlers) throw new HeraldError(ErrorCodes.invalidOptions, `no handlers registered for group ${group}`);
        const { transactionBatch: _batch, ...settings } = { ...GROUP_DEFAULTS, ...options.groups?.[group] };
        const topics = [...new Set([...handlers.values()].flatMap((entry) => entry.definitions.map((d) => d.topic)))];
        const consumer = createGroupConsumer({
          group,
          topics,
          broker,
          dispatch: createDispatcher(groupDeps(group)),
          ...settings,
          clock,
          logger: logger.child({ group }),
          instrumentation,
        });
        consumers.push(consumer);
        await consumer.start();
      }
      startOptions.signal?.addEventListener('abort', () => void app.close(), { once: true });
      if (startOptions.handleSignals) handleSignals(app);
      logger.info('herald app started', { groups: [...groups.keys()], relay: relay !== undefined });
    },

    close(closeOptions = {}) {
      closing ??= (async () => {
        const deadlineMs = closeOptions.deadlineMs ?? DEFAULT_CLOSE_DEADLINE_MS;
        await Promise.all(consumers.map((c) => c.close(deadlineMs)));
        await relay?.close();
        await broker.close();
        await stores.close();
        logger.info('herald app closed');
      })();
      return closing;
    },

    redrive(redriveOptions: RedriveOptions) {
      if (!groups.has(redriveOptions.group)) throw new HeraldError(ErrorCodes.invalidOptions, `no handlers registered for group ${redriveOptions.group}`);
      return redriveLetters(groupDeps(redriveOptions.group), redriveOptions);
    },

    deadLetters: (filter) => stores.deadLetters.list(filter),
    instrumentation,
    stores,
    broker,
    logger,
    clock,
  };

  function selectGroups(selection: StartOptions['groups']): string[] {
    if (selection === false) return [];
    if (selection === undefined || selection === true) return [...groups.keys()];
    return [...selection];
  }

  return app;
}

/** Closes the app on SIGTERM or SIGINT, then exits; a second signal exits at once. */
function handleSignals<Tx>(app: App<Tx>): void {
  const onSignal = (signal: NodeJS.Signals) => {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    const force = () => process.exit(130);
    process.once('SIGTERM', force);
    process.once('SIGINT', force);
    app.logger.info('signal received, closing', { signal });
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error('close failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
