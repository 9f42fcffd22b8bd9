// model: the event model, ids and errors
export { HeraldError, defineErrorCodes, isHeraldError, isRetriable } from './model/errors.js';
export type { ErrorCodeSpec, HeraldErrorOptions } from './model/errors.js';
export { CoreErrors, ErrorCodes, ValidationError, toError } from './model/errorCodes.js';
export type { ValidationIssue } from './model/errorCodes.js';
export { uuidv7, uuidv7Time } from './model/uuid.js';
export { closestName, describeGiven, editDistance } from './model/given.js';
export { encodeEnvelope, encodeEnvelopeValue, decodeEnvelope, DEFAULT_MAX_EVENT_BYTES } from './model/envelope.js';
export type { Envelope } from './model/envelope.js';
export { partitionForKey, murmur2 } from './model/partitioner.js';
export { assertEventDefinition, defineEvent, createEventRegistry } from './model/events.js';
export { readEvent } from './model/upcast.js';
export { registerFormats } from './model/formats.js';
export { jsonEscapesUnstorableText, unstorableTextIssues, unstorableTextReason, wellFormedText } from './model/text.js';
export type { UnstorableTextOptions } from './model/text.js';
export type { EventDefinition, EventDefinitionOptions, EventData, EventRegistry, EventUpcast } from './model/events.js';

// ports: what engines and observers plug into
export { MAX_TIMER_MS, systemClock } from './ports/clock.js';
export type { Clock } from './ports/clock.js';
export { jsonLogger, logLevelFromEnv, silentLogger } from './ports/logger.js';
export type { Logger, LogLevel } from './ports/logger.js';
export { jsonReadyFields, serializeError } from './ports/logging/serializeError.js';
export { redactText } from './ports/logging/redact.js';
/** A log line's message as Herald's loggers write it: redacted, and cut past 32 KB with a marker saying how much was left out. */
export { redactedCut as redactLogMessage } from './ports/logging/largeValues.js';
export { describeThrown } from './ports/logging/describeThrown.js';
export type { DescribeThrownOptions } from './ports/logging/describeThrown.js';
export { renameReservedFields } from './ports/logging/reservedFields.js';
export { canEnsureTopics } from './ports/broker.js';
export { canResetOffsets, resetTargets } from './ports/offsetReset.js';
export type { OffsetReset, OffsetResetOptions, ResetPosition, ResetTargets } from './ports/offsetReset.js';
export type {
  Broker,
  CommittedOffset,
  Delivery,
  DeliveryBatch,
  DeliverySink,
  OutgoingRecord,
  OutOfRangeDecision,
  SkippedRecords,
  HeldPartition,
  StartPosition,
  SubscribeOptions,
  Subscription,
  TopicAdmin,
  TopicPartition,
  TopicSpec,
} from './ports/broker.js';
export { canInspect } from './ports/inspection.js';
export { canReadRecords, checkRecordRange, MAX_RECORDS_PER_READ } from './ports/recordReader.js';
export type { RecordRange, RecordReader } from './ports/recordReader.js';
export type { BrokerInspector, DescribeGroupOptions, GroupDescription, PartitionLag, PartitionRange, TopicDescription } from './ports/inspection.js';
export { createInstrumentation } from './ports/instrumentation.js';
export type { DeliveryOutcome, Instrumentation, InstrumentationEvent, InstrumentationListener, SagaTransitionKind, StreamFact } from './ports/instrumentation.js';
export type { Component, HandlerService } from './ports/component.js';
export { isHandlerService } from './ports/component.js';
export type { Stores } from './ports/stores/stores.js';
export type { SqlOptions, SqlTx, TransactionRunner } from './ports/stores/transaction.js';
export { hasOutboxBacklog, hasOutboxSignal } from './ports/stores/outbox.js';
export type { ClaimOptions, OutboxBacklog, OutboxClaims, OutboxEntry, OutboxRecord, OutboxSignal, OutboxStore, TopicBacklog } from './ports/stores/outbox.js';
export { markAllHandled } from './ports/stores/inbox.js';
export type { InboxEntry, InboxStore } from './ports/stores/inbox.js';
export { canBrowseDeadLetters } from './ports/stores/deadLetters.js';
export type {
  DeadLetter,
  DeadLetterBrowser,
  DeadLetterCause,
  DeadLetterFilter,
  DeadLetterGroup,
  DeadLetterPage,
  DeadLetterPageRequest,
  DeadLetterPolicy,
  DeadLetterQuery,
  DeadLetterStatus,
  DeadLetterStore,
} from './ports/stores/deadLetters.js';
export { hasIdempotency } from './ports/stores/idempotency.js';
export type { IdempotencyBegin, IdempotencyBeginOptions, IdempotencyOwnership, IdempotencyRecord, IdempotencyStore, IdempotencyStores } from './ports/stores/idempotency.js';
export { canSweepRetention } from './ports/stores/retention.js';
export { hasReadTransactions } from './ports/stores/read.js';
export type { ReadTransactions } from './ports/stores/read.js';
export { byCloseOrder, byWindowOrder, checkWindowChange, checkWindowPartition, hasWindowStore } from './ports/stores/windows.js';
export type { CheckedWindowChange, StoredWindow, WindowChange, WindowPartition, WindowPartitionState, WindowPartitionSummary, WindowSnapshot, WindowStore, WindowStores } from './ports/stores/windows.js';
export type { RetentionSweep, RetentionSweepResult } from './ports/stores/retention.js';
export { hasTimers } from './ports/stores/timers.js';
export type { FiredTimers, PendingTimer, ScheduledRecord, TimerStore, TimerStores } from './ports/stores/timers.js';
export { hasSagas } from './ports/stores/sagas.js';
export type { SagaRecord, SagaStore, SagaStores } from './ports/stores/sagas.js';
export { hasSagaCensus, SAGA_IN_FLIGHT_STATUSES } from './ports/stores/sagaCensus.js';
export type { SagaCensus, SagaInFlightStatus, SagasInFlight } from './ports/stores/sagaCensus.js';

// timing
export { backoffDelay } from './timing/backoff.js';
export type { BackoffOptions } from './timing/backoff.js';
export { createManualClock } from './timing/manualClock.js';
export type { ManualClock } from './timing/manualClock.js';
export { untilAborted } from './timing/untilAborted.js';

// pipeline: the handler shape, its context and the policies
export { compose, deriveContext } from './pipeline/handler.js';
export { adjustPublish } from './pipeline/publisher.js';
export type { AttemptScope, BatchContext, BatchHandler, BatchMiddleware, ContextOverrides, Handler, HandlerContext, Middleware, Publish, PublishManyOptions, PublishOptions, ScheduledEvent, ScheduleOptions } from './pipeline/handler.js';
export { createHandlerContext } from './pipeline/context.js';
export type { HandlerContextInit } from './pipeline/context.js';
export { createDeliveryState } from './pipeline/deliveryState.js';
export type { DeliveryState } from './pipeline/deliveryState.js';
export { fingerprintOf, firstApplicationFrame } from './pipeline/fingerprint.js';
export { REDRIVE_HEADERS, keyParkedFor, redriveRecord, redriveTargetOf } from './pipeline/logRedrive.js';
export type { RedriveTarget } from './pipeline/logRedrive.js';
export { createPipeline, defaultPipeline, policyStep, DEFAULT_STEPS } from './pipeline/preset.js';
export type { HandlerSettings, Pipeline, PipelineEdit, PolicyEnv, PolicyStep } from './pipeline/preset.js';
export { correlation } from './pipeline/policies/correlation.js';
export { instrument } from './pipeline/policies/instrument.js';
export { deadLetter } from './pipeline/policies/deadLetter.js';
export { retry, RETRY_DEFAULTS } from './pipeline/policies/retry.js';
export type { RetryOptions } from './pipeline/policies/retry.js';
export { timeout } from './pipeline/policies/timeout.js';
export { recover } from './pipeline/policies/recover.js';
export { transaction } from './pipeline/policies/transaction.js';
export type { TransactionPolicyOptions } from './pipeline/policies/transaction.js';
export { inbox } from './pipeline/policies/inbox.js';

// relay
export { createRelay } from './relay/relay.js';
export type { Relay, RelayDeps, RelayOptions } from './relay/relay.js';
export { groupSent } from './relay/relayHost.js';
export type { RelayHost, RelayHostDeps, RelaySent, RelaySentGroup } from './relay/relayHost.js';
export { chaosBroker, isChaosError } from './relay/chaos.js';
export type { ChaosOptions } from './relay/chaos.js';

// timers
export { createTimerScheduler, TIMER_SCHEDULER_DEFAULTS } from './timers/scheduler.js';
export type { TimerScheduler, TimerSchedulerDeps, TimerSchedulerOptions } from './timers/scheduler.js';

// runtime
export type { RedriveOptions, RedriveResult } from './runtime/redrive.js';
export type { OffsetOutOfRangePolicy } from './runtime/groupConsumer.js';
export { membershipFacts } from './runtime/membershipFacts.js';
export type { MembershipFacts } from './runtime/membershipFacts.js';

// app
export { createApp } from './app/createApp.js';
export { APP_DEFAULTS } from './app/options.js';
export { closeOnSignals, runService } from './app/signals.js';
export type { RunnableService, SignalOptions } from './app/signals.js';
export type { App, AppOptions, GroupOptions, GroupSubscription, HandlerOptions, HandlerPolicy, StartOptions, TransactionWork } from './app/types.js';
