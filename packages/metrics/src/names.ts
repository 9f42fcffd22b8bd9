/**
 * Every metric Herald exports, in one place: name, help, labels and (for histograms) buckets.
 * Names are in base units (`_seconds`, `_total`); label sets stay small and bounded (groups,
 * topics, event types, handlers, outcomes, error codes, route patterns — never ids or keys).
 * Dashboards and alert rules under `deploy/` query exactly these names; a test scrapes a live
 * registry and fails when they ask for one that is not here.
 */

/** One metric's definition. */
export interface MetricSpec<L extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
}

/** A histogram's definition: upper bounds of its buckets, in seconds. */
export interface HistogramSpec<L extends string = string> extends MetricSpec<L> {
  readonly buckets: readonly number[];
}

/**
 * Handler time: a few ms on the embedded engine, up to 165 s with the default policies (5 attempts
 * of at most 30 s each, and at most 1 + 2 + 4 + 8 s of backoff), longer with longer timeouts: the
 * buckets go past that, so a slow pipeline is measured, not lumped into +Inf.
 */
const HANDLER_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** End-to-end time: milliseconds when all is well, minutes behind retries, chaos or lag, hours behind an outage or a backlog. */
const CRITICAL_TIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800, 86400];
/**
 * Relay batch time: milliseconds to a broker that answers, past 30 s to one that does not at first
 * (Kafka's request timeout is 30 s by default, and the client retries within the publish).
 */
const RELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Saga duration: seconds for automated flows, up to hours for flows that wait on people. */
const SAGA_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];
/**
 * Request time: milliseconds for most routes, up to the gateway's 30 s `requestTimeoutMs` for a
 * slow client's body, and past it for a route waiting on a lock or a reply: the slow tail an SLO
 * is about lands in a bucket, not in +Inf (where `histogram_quantile` reports it as 10 s).
 */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Counters: only ever go up (per process; Prometheus' `rate`/`increase` handle restarts). */
export const COUNTERS = {
  published: {
    name: 'herald_events_published_total',
    help: 'Events written to the outbox, counted once their transaction committed.',
    labelNames: ['topic', 'event_type'],
  },
  relayed: {
    name: 'herald_events_relayed_total',
    help: 'Outbox records the relay published to the broker (a record published again after a lost acknowledgement counts again).',
    labelNames: [],
  },
  relayFailures: {
    name: 'herald_relay_failures_total',
    help: 'Relay publish calls that failed and will be retried; cause is chaos for failures injected on purpose, error otherwise.',
    labelNames: ['cause'],
  },
  handled: {
    name: 'herald_events_handled_total',
    help: 'Deliveries that finished (after their retries), by consumer group, topic, event type and outcome.',
    labelNames: ['group', 'topic', 'event_type', 'outcome'],
  },
  retries: {
    name: 'herald_handler_retries_total',
    help: 'Failed handler attempts that are retried after a backoff.',
    labelNames: ['group', 'event_type'],
  },
  deadLettered: {
    name: 'herald_events_dead_lettered_total',
    help: 'Events stored as dead letters (status dead) or parked behind one (status parked); reason is the error code.',
    labelNames: ['group', 'handler', 'reason', 'status'],
  },
  redriven: {
    name: 'herald_events_redriven_total',
    help: 'Dead letters sent back through their handler successfully.',
    labelNames: ['group', 'handler'],
  },
  upcast: {
    name: 'herald_events_upcast_total',
    help: "Events of an earlier version of their type read as their handler's version (the definition's upcast), by group, type and both versions: when an old version stops arriving, its upcast can go.",
    labelNames: ['group', 'event_type', 'from_version', 'to_version'],
  },
  recordsSkipped: {
    name: 'herald_records_skipped_total',
    help: 'Records a consumer group never read because broker retention deleted them first (offset out of range), by group, topic and partition.',
    labelNames: ['group', 'topic', 'partition'],
  },
  repliesDropped: {
    name: 'herald_replies_dropped_total',
    help: 'Replies that reached the requester instance that asked but found no caller waiting (reason late: its request timed out or was cancelled; duplicate: already answered; unknown), by reply type.',
    labelNames: ['reply_type', 'reason'],
  },
  requestsExpired: {
    name: 'herald_requests_expired_total',
    help: "Requests a replier skipped because it read them past their deadline (plus its clock-skew allowance): their callers had already timed out, so a replier that runs behind shows here. By the replier's consumer group and request type.",
    labelNames: ['group', 'request_type'],
  },
  timersFired: {
    name: 'herald_timers_fired_total',
    help: 'Due timers (scheduled events) the timer scheduler moved into the outbox.',
    labelNames: [],
  },
  sagaTransitions: {
    name: 'herald_saga_transitions_total',
    help: 'Saga instances that moved, once the change committed: transition is started, step_completed, step_timed_out, compensating, completed or failed.',
    labelNames: ['saga', 'transition'],
  },
  streamLate: {
    name: 'herald_stream_late_records_total',
    help: 'Records a windowed aggregation (@herald/stream) sent to its side output because they arrived after their windows closed (past grace), by group, aggregation, topic and partition.',
    labelNames: ['group', 'aggregation', 'topic', 'partition'],
  },
  streamResults: {
    name: 'herald_stream_results_total',
    help: 'Results a windowed aggregation emitted (windows closed; with emit update, windows updated and sessions merged away), by group and aggregation.',
    labelNames: ['group', 'aggregation'],
  },
  punctuationFailures: {
    name: 'herald_stream_punctuation_failures_total',
    help: "Failed punctuations of a stream's idle partitions (tried again at the next tick; meanwhile the partition's windows stay open), by group and reason (the error code).",
    labelNames: ['group', 'reason'],
  },
  pollErrors: {
    name: 'herald_metrics_read_errors_total',
    help: 'Failed reads of the read side (source: lag, outbox, dead_letters or sagas); the gauges keep their last values.',
    labelNames: ['source'],
  },
} as const satisfies Record<string, MetricSpec>;

/** Histograms, in seconds. */
export const HISTOGRAMS = {
  handlerDuration: {
    name: 'herald_handler_duration_seconds',
    help: 'Time a delivery spent in its pipeline, all attempts and retry backoff included.',
    labelNames: ['group', 'event_type'],
    buckets: HANDLER_BUCKETS,
  },
  criticalTime: {
    name: 'herald_critical_time_seconds',
    help: "Critical time: from the event's occurredAt to the commit of its handling, for deliveries applied.",
    labelNames: ['group', 'event_type'],
    buckets: CRITICAL_TIME_BUCKETS,
  },
  relayDuration: {
    name: 'herald_relay_publish_duration_seconds',
    help: 'Time the relay took to publish one claimed batch to the broker and mark it published.',
    labelNames: [],
    buckets: RELAY_BUCKETS,
  },
  sagaDuration: {
    name: 'herald_saga_duration_seconds',
    help: 'Saga instances that ended, from their start to their end, by saga and outcome (completed or failed).',
    labelNames: ['saga', 'outcome'],
    buckets: SAGA_BUCKETS,
  },
  httpDuration: {
    name: 'herald_http_request_duration_seconds',
    help: 'HTTP requests served by the gateway, by method, route pattern and status code (its _count is the request count).',
    labelNames: ['method', 'route', 'status_code'],
    buckets: HTTP_BUCKETS,
  },
} as const satisfies Record<string, HistogramSpec>;

/** Gauges: what the read side says now (polled), or this process' state. */
export const GAUGES = {
  lag: {
    name: 'herald_consumer_lag',
    help: "Records a consumer group still has to read in a partition (end offset minus the group's committed offset, or minus the first retained offset where it never committed; there 0 for a group starting at 'latest', which will read none of it).",
    labelNames: ['group', 'topic', 'partition'],
  },
  members: {
    name: 'herald_consumer_group_members',
    help: 'Live members of a consumer group, as the broker reports them.',
    labelNames: ['group'],
  },
  assigned: {
    name: 'herald_consumer_assigned_partitions',
    help: "Partitions this process' member of a consumer group owns now.",
    labelNames: ['group'],
  },
  held: {
    name: 'herald_consumer_partition_held',
    help: "1 while this process' member of a consumer group holds a partition before records the broker cannot read (a record batch no codec could decompress): nothing of it is handled until it moves or the process restarts. reason is the error code.",
    labelNames: ['group', 'topic', 'partition', 'reason'],
  },
  outboxPending: {
    name: 'herald_outbox_pending',
    help: 'Outbox records committed and not yet published by a relay, per topic.',
    labelNames: ['topic'],
  },
  outboxAge: {
    name: 'herald_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest outbox record not yet published, per topic (0 when none waits).',
    labelNames: ['topic'],
  },
  deadLetters: {
    name: 'herald_dead_letters',
    help: 'Dead letters waiting for an operator (status dead or parked), by group, handler and reason.',
    labelNames: ['group', 'handler', 'reason', 'status'],
  },
  sagasInFlight: {
    name: 'herald_sagas_in_flight',
    help: 'Saga instances not ended, by saga and status: running (started) or awaiting-start (events of its flow came before its start event); 0 for a saga seen before with none left.',
    labelNames: ['saga', 'status'],
  },
  sagaAge: {
    name: 'herald_saga_oldest_in_flight_age_seconds',
    help: 'Age of the oldest saga instance not ended, by saga and status, since its first event was stored (0 when none).',
    labelNames: ['saga', 'status'],
  },
  streamTimeLag: {
    name: 'herald_stream_time_lag_seconds',
    help: "How far a partition's stream time for a windowed aggregation is behind the wall clock (at the scrape), in partitions this process' member runs, as of their last batch or punctuation here; below 0 when event times are ahead of the clock.",
    labelNames: ['group', 'aggregation', 'partition'],
  },
} as const satisfies Record<string, MetricSpec>;

/** The `cause` label of relay failures injected by the chaos option. */
export const CHAOS_CAUSE = 'chaos';
/** The `cause` label of every other relay failure. */
export const ERROR_CAUSE = 'error';
/** The `route` label of requests no route matched (404s): one series, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';
