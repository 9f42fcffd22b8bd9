export { HeraldError, ValidationError, ErrorCodes, isHeraldError, isRetriable, toError } from './errors.js';
export type { ValidationIssue } from './errors.js';
export { uuidv7, uuidv7Time } from './uuid.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { createManualClock } from './manualClock.js';
export type { ManualClock } from './manualClock.js';
export { encodeEnvelope, decodeEnvelope, DEFAULT_MAX_EVENT_BYTES } from './envelope.js';
export type { Envelope } from './envelope.js';
export { partitionForKey, murmur2 } from './partitioner.js';
export { defineEvent, createEventRegistry } from './events.js';
export type { EventDefinition, EventDefinitionOptions, EventData, EventRegistry } from './events.js';
export { canEnsureTopics, canResetOffsets } from './broker.js';
export { canInspect } from './inspection.js';
export type { BrokerInspector, GroupDescription, PartitionLag, PartitionRange, TopicDescription } from './inspection.js';
export type {
  Broker,
  CommittedOffset,
  Delivery,
  DeliveryBatch,
  DeliverySink,
  OffsetReset,
  OutgoingRecord,
  StartPosition,
  SubscribeOptions,
  Subscription,
  TopicAdmin,
  TopicPartition,
  TopicSpec,
} from './broker.js';
export { hasOutboxSignal } from './store.js';
export type {
  ClaimOptions,
  DeadLetter,
  DeadLetterFilter,
  DeadLetterPolicy,
  DeadLetterStatus,
  DeadLetterStore,
  IdempotencyBegin,
  IdempotencyRecord,
  IdempotencyStore,
  InboxEntry,
  InboxStore,
  OutboxEntry,
  OutboxRecord,
  OutboxSignal,
  OutboxStore,
  SqlTx,
  Stores,
  TransactionRunner,
} from './store.js';
export { jsonLogger, silentLogger } from './logger.js';
export type { Logger, LogLevel } from './logger.js';
export { createInstrumentation } from './instrumentation.js';
export type { Instrumentation, InstrumentationEvent, InstrumentationListener } from './instrumentation.js';
export { compose, deriveContext } from './handler.js';
export type { Handler, HandlerContext, Middleware, Publish, PublishOptions } from './handler.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { retry, RETRY_DEFAULTS } from './middleware/retry.js';
export type { RetryOptions } from './middleware/retry.js';
export { chaosBroker, isChaosError } from './chaos.js';
export type { ChaosOptions } from './chaos.js';
export { createRelay } from './relay.js';
export type { Relay, RelayDeps, RelayOptions } from './relay.js';
export type {
  App,
  AppOptions,
  GroupOptions,
  HandlerOptions,
  HandlerPolicy,
  RedriveOptions,
  RedriveResult,
  StartOptions,
  TransactionWork,
} from './appTypes.js';
export { createApp } from './app.js';
export { correlation } from './middleware/correlation.js';
export { recover } from './middleware/recover.js';
export { timeout } from './middleware/timeout.js';
