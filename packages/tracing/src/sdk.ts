import { ProxyTracerProvider, context, propagation, trace, type TracerProvider } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { HeraldError } from '@herald/core';
import { SERVICE_NAME } from './conventions.js';
import { TracingErrors } from './errors.js';
import { PooledIdGenerator } from './internal/ids.js';

/** Options of {@link startTracing}. */
export interface StartTracingOptions {
  /** `service.name` of the spans, unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) names one. */
  readonly serviceName?: string;
  /** An exporter to use instead of the one the environment names (a test's `InMemorySpanExporter`). */
  readonly exporter?: SpanExporter;
  /**
   * `batch` (default): spans are queued and exported in batches off the request path
   * (`OTEL_BSP_*` tune it); `simple`: each span is exported as it ends (tests, debugging).
   */
  readonly processor?: 'batch' | 'simple';
  /**
   * Register globally (tracer provider, W3C propagators), so `createTracing()` and other
   * instrumentations find it. Default true; false keeps it private (pass `sdk.provider` to
   * `createTracing({ tracerProvider })`).
   */
  readonly register?: boolean;
  /**
   * Also register an AsyncLocalStorage context manager, so the active span follows async calls:
   * `trace.getActiveSpan()` in a handler is its process span, and spans other instrumentations
   * open inside a handler or a route (a database driver's) nest under it. Default false: Herald
   * passes its own trace contexts explicitly and needs none, and on Node 20 AsyncLocalStorage
   * hooks every promise of the process, which costs the embedded pipeline about a third of its
   * throughput (see the README's Cost section).
   */
  readonly activeContext?: boolean;
}

/** A running OpenTelemetry tracing SDK. */
export interface TracingSdk {
  readonly provider: TracerProvider;
  /** The exporters in use: `otlp` (with its protocol), `console`, `custom`; empty when none. */
  readonly exporters: readonly string[];
  /** Exports what is queued now. */
  forceFlush(): Promise<void>;
  /** Exports what is queued, then stops (and unregisters what it registered). Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry tracing SDK (a `NodeTracerProvider`, registered globally) as the
 * standard variables (of `process.env`) say:
 * - `OTEL_TRACES_EXPORTER`: `otlp` (default), `console`, `none`, or a comma-separated list;
 * - `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`
 *   (default) or `http/json`; `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`, `_HEADERS`, `_TIMEOUT`,
 *   `_COMPRESSION` are read by the exporter (default endpoint http://localhost:4318/v1/traces);
 * - `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`; `OTEL_TRACES_SAMPLER(_ARG)`; `OTEL_BSP_*`;
 * - `OTEL_SDK_DISABLED=true`: nothing is recorded, exported or registered (OpenTelemetry's no-op
 *   API: trace contexts that come in still go out unchanged to the services downstream).
 *
 * Trace and span ids come from the system's cryptographic generator (drawn 4 KiB at a time).
 *
 * Throws `tracing-exporter-unsupported` for an exporter or protocol it does not ship (zipkin,
 * grpc...). Call `shutdown()` when the service stops, after the app closed, so the last spans
 * leave.
 *
 * @example
 * const sdk = startTracing({ serviceName: 'ticket-orders' });
 * // ... createTracing(), createApp(...), run ...
 * await app.close();
 * await sdk.shutdown();
 */
export function startTracing(options: StartTracingOptions = {}): TracingSdk {
  // the SDK switched off: OpenTelemetry's no-op API, registering nothing. Its spans record
  // nothing and carry their parent's context unchanged (a caller's sampled trace stays sampled
  // for the services downstream); a sampler that drops everything would mark every trace passing
  // through unsampled, and switch tracing off for the whole system
  if (process.env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') {
    return { provider: new ProxyTracerProvider(), exporters: [], forceFlush: async () => {}, shutdown: async () => {} };
  }
  const exporters = options.exporter ? [{ name: 'custom', exporter: options.exporter }] : exportersFromEnv(process.env);
  const wrap = (exporter: SpanExporter): SpanProcessor => (options.processor === 'simple' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter));
  const provider = new NodeTracerProvider({
    resource: resourceOf(options.serviceName),
    idGenerator: new PooledIdGenerator(),
    spanProcessors: exporters.map((e) => wrap(e.exporter)),
  });
  const register = options.register ?? true;
  // null: no context manager (the API's default passes contexts through without tracking them)
  if (register) provider.register(options.activeContext ? {} : { contextManager: null });
  let stopped: Promise<void> | undefined;
  return {
    provider,
    exporters: exporters.map((e) => e.name),
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          if (register) {
            trace.disable();
            propagation.disable();
            if (options.activeContext) context.disable();
          }
        }
      })();
      return stopped;
    },
  };
}

function exportersFromEnv(env: Readonly<Record<string, string | undefined>>): { name: string; exporter: SpanExporter }[] {
  const names = (env['OTEL_TRACES_EXPORTER']?.trim() || 'otlp').split(',').map((n) => n.trim().toLowerCase());
  if (names.includes('none')) return [];
  return [...new Set(names)].map((name) => {
    if (name === 'console') return { name, exporter: new ConsoleSpanExporter() };
    if (name !== 'otlp') throw unsupported(`OTEL_TRACES_EXPORTER names "${name}"; this package ships otlp, console and none`);
    const protocol = (env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] || env['OTEL_EXPORTER_OTLP_PROTOCOL'] || 'http/protobuf').trim();
    if (protocol === 'http/protobuf') return { name: 'otlp http/protobuf', exporter: new OtlpProtobufExporter() };
    if (protocol === 'http/json') return { name: 'otlp http/json', exporter: new OtlpHttpJsonExporter() };
    throw unsupported(`the OTLP protocol "${protocol}" is not shipped; use http/protobuf (the default) or http/json`);
  });
}

/** Herald's service name under what the environment says: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win. */
function resourceOf(serviceName: string | undefined) {
  const named = serviceName ? defaultResource().merge(resourceFromAttributes({ [SERVICE_NAME]: serviceName })) : defaultResource();
  return named.merge(detectResources({ detectors: [envDetector] }));
}

function unsupported(message: string): HeraldError {
  return new HeraldError(TracingErrors.exporterUnsupported, message);
}
