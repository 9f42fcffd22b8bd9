import { trace, type Context, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { CoreErrors, HeraldError } from '@herald/core';
import type { AppOptions, Broker, Pipeline, Publish } from '@herald/core';
import { tracedBroker, tracedRelayHost } from './internal/broker.js';
import { httpTracer, type HttpTracer } from './http.js';
import { PROCESS_STEP, attemptStep, processStep, publishStep } from './internal/pipeline.js';
import { tracedPublish } from './internal/publish.js';
import { tracingState } from './internal/spans.js';
import { HERALD_SYSTEM } from './conventions.js';

/** Options of {@link createTracing}. */
export interface TracingOptions {
  /** Where spans go. Default: the global tracer provider (the one {@link startTracing} registers). */
  readonly tracerProvider?: TracerProvider;
  /**
   * `messaging.system` of the messaging spans: `kafka` on Kafka; default `herald` (the embedded
   * log). Also names the system-specific attributes (`messaging.kafka.offset`...).
   */
  readonly messagingSystem?: string;
}

/**
 * Herald's tracing on OpenTelemetry, for one app: every piece the messaging conventions ask for,
 * ready to plug into the app, the broker and the HTTP gateway. The core knows nothing of it.
 */
export interface Tracing {
  /**
   * The app's options with tracing on: the broker wrapped ({@link broker}) and the pipeline edited
   * ({@link pipeline}) after the app's own edit, if any. A relay run elsewhere (`relayHost`, the
   * embedded engine's `relayThread`) publishes with a broker of its own: its sends are recorded
   * from what it reports, and the records keep their creation context (see `tracedRelayHost`).
   */
  app<Tx>(options: AppOptions<Tx>): AppOptions<Tx>;
  /**
   * Wraps a broker: a send span per record published (the relay's sends), carried to the
   * consumers in the record's headers. Subscriptions and every optional ability of the broker
   * (topic admin, offset reset, inspector, any other) are the wrapped broker's, untouched.
   */
  broker<B extends Broker>(broker: B): B;
  /**
   * A pipeline edit adding three steps: `trace` (a process span per delivery, after
   * `correlation`, else outermost; for a batch handler's whole batch, one process span per batch),
   * `traceAttempt` (just inside `retry`, else inside `trace`: an `exception` event per failed
   * attempt) and `tracePublish` (inside `transaction`: `ctx.publish` opens a create span per
   * event, child of the process span; not added without a `transaction` step).
   */
  pipeline<Tx>(pipeline: Pipeline<Tx>): Pipeline<Tx>;
  /** The HTTP gateway's tracing hook: `createGateway({ app, tracing: tracing.http })`. */
  readonly http: HttpTracer;
  /**
   * Wraps a `publish` (an `app.transaction`'s, a test's) so each event gets a create span, child
   * of `parent` or else of the active span. Handlers and gateway routes get this already.
   */
  publish(publish: Publish, parent?: Context): Publish;
  /** The tracer the spans come from (`@herald/tracing`). */
  readonly tracer: Tracer;
}

const TRACER_NAME = '@herald/tracing';
const TRACER_VERSION = '0.1.0';

/**
 * Creates the tracing of one app. With {@link startTracing} (or any OpenTelemetry SDK registered
 * globally) the spans are exported; without one they cost almost nothing and go nowhere.
 *
 * One trace then runs: the HTTP request (server span) → `create {topic}` for each event it
 * publishes → `send {topic}` when the relay hands it to the broker → `process {topic}` in each
 * consumer group → `create` for each event the handler publishes → and so on. The event's
 * creation context travels in its envelope (`traceparent`, as the core propagates it from cause
 * to effect); the send span's in the broker record's headers.
 *
 * @example
 * const sdk = startTracing({ serviceName: 'orders' }); // exporter from OTEL_* variables
 * const tracing = createTracing();
 * const app = createApp(tracing.app({ ...sqliteEngine({ dataDir: '.herald' }), name: 'orders' }));
 * const gateway = createGateway({ app, tracing: tracing.http });
 */
export function createTracing(options: TracingOptions = {}): Tracing {
  const system = options.messagingSystem ?? HERALD_SYSTEM;
  if (typeof system !== 'string' || !/^[a-z][a-z0-9_.]*$/.test(system)) {
    throw new HeraldError(CoreErrors.invalidOptions, `tracing: messagingSystem must be a lowercase name like "kafka", got ${JSON.stringify(system)}`);
  }
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(TRACER_NAME, TRACER_VERSION);
  const state = tracingState(tracer, system);

  function pipeline<Tx>(edited: Pipeline<Tx>): Pipeline<Tx> {
    if (edited.has(PROCESS_STEP)) return edited;
    const process = processStep<Tx>(state);
    const names = edited.names();
    let next = edited.has('correlation') ? edited.insertAfter('correlation', process) : names.length > 0 ? edited.insertBefore(names[0]!, process) : edited.append(process);
    next = next.insertAfter(next.has('retry') ? 'retry' : PROCESS_STEP, attemptStep<Tx>(state));
    if (next.has('transaction')) next = next.insertAfter('transaction', publishStep<Tx>(state));
    return next;
  }

  return {
    app<Tx>(appOptions: AppOptions<Tx>): AppOptions<Tx> {
      const own = appOptions.pipeline;
      return {
        ...appOptions,
        broker: tracedBroker(state, appOptions.broker),
        ...(appOptions.relayHost ? { relayHost: tracedRelayHost(state, appOptions.relayHost) } : {}),
        pipeline: (p: Pipeline<Tx>) => pipeline(own ? own(p) : p),
      };
    },
    broker: (broker) => tracedBroker(state, broker),
    pipeline,
    http: httpTracer(state),
    publish: (publish, parent) => tracedPublish(state, publish, parent),
    tracer,
  };
}
