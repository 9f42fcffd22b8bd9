import { defineErrorCodes } from '@herald/core';

/**
 * The error codes `@herald/tracing` adds to the core's: its errors are `HeraldError`s with these
 * codes or the core's (`invalid-options` for a malformed value).
 */
export const { specs: TracingErrors, codes: TracingErrorCodes } = defineErrorCodes({
  exporterUnsupported: {
    code: 'tracing-exporter-unsupported',
    retriable: false,
    meaning: 'OTEL_TRACES_EXPORTER names an exporter other than otlp, console or none, or the OTLP protocol is not http/protobuf or http/json (grpc is not shipped).',
    action: 'Use OTEL_TRACES_EXPORTER=otlp (the default) with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json, console, or none; pass `exporter` to startTracing for anything else.',
  },
});
