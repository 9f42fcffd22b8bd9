import {
  canEnsureTopics,
  canResetOffsets,
  hasIdempotency,
  hasOutboxSignal,
  hasReadTransactions,
  hasSagas,
  hasTimers,
  type Broker,
  type IdempotencyStores,
  type OffsetReset,
  type OutboxSignal,
  type ReadTransactions,
  type SagaStores,
  type Stores,
  type TimerStores,
  type TopicAdmin,
} from '@herald/core';

/**
 * The broker seen by one app of the pipeline suite: `close()` leaves the shared broker open (the
 * next app of the test uses it), and with `dropCommits` every offset commit is silently lost, as
 * when a process dies between its effects and its commit.
 */
export function keepOpenBroker(broker: Broker, options: { dropCommits?: boolean } = {}): Broker {
  const kept: Broker & Partial<TopicAdmin & OffsetReset> = {
    publish: (records) => broker.publish(records),
    async subscribe(subscribeOptions, sink) {
      const subscription = await broker.subscribe(subscribeOptions, sink);
      if (!options.dropCommits) return subscription;
      return { commit: async () => {}, close: () => subscription.close() };
    },
    close: async () => {},
  };
  if (canEnsureTopics(broker)) kept.ensureTopics = (topics) => broker.ensureTopics(topics);
  if (canResetOffsets(broker)) kept.resetOffsets = (reset) => broker.resetOffsets(reset);
  return kept;
}

/** The stores seen by one app of the pipeline suite: everything (abilities too) passes through except `close()`. */
export function keepOpenStores<Tx>(stores: Stores<Tx>): Stores<Tx> {
  const kept: Stores<Tx> &
    Partial<OutboxSignal> &
    Partial<ReadTransactions<Tx>> & { idempotency?: IdempotencyStores<Tx>['idempotency']; timers?: TimerStores<Tx>['timers']; sagas?: SagaStores<Tx>['sagas'] } = {
    transaction: (work) => stores.transaction(work),
    outbox: stores.outbox,
    inbox: stores.inbox,
    deadLetters: stores.deadLetters,
    close: async () => {},
  };
  if (hasIdempotency(stores)) kept.idempotency = stores.idempotency;
  if (hasTimers<Stores<Tx>, Tx>(stores)) kept.timers = stores.timers;
  if (hasSagas<Stores<Tx>, Tx>(stores)) kept.sagas = stores.sagas;
  if (hasOutboxSignal(stores)) kept.onAppended = (listener) => stores.onAppended(listener);
  if (hasReadTransactions<Stores<Tx>, Tx>(stores)) kept.read = (work) => stores.read(work);
  return kept;
}
