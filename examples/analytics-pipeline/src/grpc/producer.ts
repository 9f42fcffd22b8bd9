import * as grpc from '@grpc/grpc-js';
import type { Logger, Publish, ValidationIssue } from '@herald/core';
import { jsonDepth } from '@herald/http';
import { appendEvents, appendMetric, assertValid, createIngestChecks, MAX_BATCH, type IngestChecks, type IngestEvent } from '../ingest.js';
import { createGrpcServer, failedCall, finishCall, unary, type CallObserver, type GrpcServer } from './server.js';

/** `herald.analytics.v1.Event` as proto-loader gives it. */
export interface EventMessage {
  readonly eventId: string;
  readonly userId: string;
  readonly type: string;
  readonly timestamp: string;
  readonly propertiesJson: string;
}

interface MetricMessage {
  readonly sampleId: string;
  readonly name: string;
  readonly value: number;
  readonly timestamp: string;
  readonly labels: Record<string, string>;
}

/** Events appended at once while a client stream is read. */
const STREAM_CHUNK = 500;

/** Options of {@link createProducerGrpc}. */
export interface ProducerGrpcOptions {
  /** `app.publishDirect`: appends straight to the log, resolves once durable. */
  readonly publish: Publish;
  readonly logger: Logger;
  /** Told of every answered call (see `CallObserver`). */
  readonly onCall: CallObserver['onCall'];
  /** How far ahead of this process's clock an event time may be (`maxFutureSkewOf(graceMs)`). */
  readonly maxFutureSkewMs: number;
}

/**
 * How deep `properties_json` may nest arrays and objects: as deep as the HTTP gateway takes a body
 * (its `maxBodyDepth` default). A value thousands of levels deep overflows the stack of whatever
 * walks it next (JSON.stringify when it is appended), failing the call as INTERNAL.
 */
export const MAX_PROPERTIES_DEPTH = 1000;

/**
 * The producer's gRPC server (`proto/producer.proto`): `Ingest`, `IngestBatch` (all or nothing),
 * client-streaming `IngestStream` (appended in chunks as it comes; an invalid event ends the call
 * with INVALID_ARGUMENT, the events before it stay appended and are counted in the `accepted`
 * trailer) and `RecordMetric`. Each event is checked as the HTTP body is, and appended the same way.
 */
export function createProducerGrpc(service: grpc.ServiceDefinition, options: ProducerGrpcOptions): GrpcServer {
  const { publish } = options;
  const checks = createIngestChecks({ maxFutureSkewMs: options.maxFutureSkewMs });
  const observer: CallObserver = { onCall: options.onCall, logger: options.logger };
  const implementation: grpc.UntypedServiceImplementation = {
    Ingest: unary(async (message: EventMessage) => {
      const [event] = checked(checks, [message], { pathOf: () => '', what: 'event' });
      const [eventId] = await appendEvents(publish, [event!]);
      return { eventId };
    }, observer),
    IngestBatch: unary(async (message: { events: EventMessage[] }) => {
      if (message.events.length < 1 || message.events.length > MAX_BATCH) {
        assertValid([{ path: '/events', message: `must hold 1 to ${MAX_BATCH} events, got ${message.events.length}` }], 'batch');
      }
      const events = checked(checks, message.events, { pathOf: (i) => `/events/${i}`, what: `batch of ${message.events.length} events (none was accepted)` });
      return { accepted: (await appendEvents(publish, events)).length };
    }, observer),
    IngestStream: (call: grpc.ServerReadableStream<EventMessage, { accepted: number }>, callback: grpc.sendUnaryData<{ accepted: number }>) => {
      const started = { method: call.getPath(), type: 'client_stream' as const, startedAt: performance.now() };
      void readStream(call, { publish, checks })
        .then(({ accepted, error }) => {
          if (error === undefined) {
            finishCall(observer, started, undefined);
            return callback(null, { accepted });
          }
          const trailer = new grpc.Metadata();
          trailer.set('accepted', String(accepted));
          const status = failedCall(error, { logger: options.logger, method: started.method, trailer });
          finishCall(observer, started, status);
          callback(status);
        })
        .catch((error: unknown) => options.logger.error('gRPC call could not be answered', { method: started.method, error }));
    },
    RecordMetric: unary(async (message: MetricMessage) => {
      const sample = { ...(message.sampleId ? { sampleId: message.sampleId } : {}), name: message.name, value: message.value, timestamp: message.timestamp, labels: { ...message.labels } };
      assertValid(checks.metricIssues(sample), 'metric');
      await appendMetric(publish, sample);
      return { accepted: 1 };
    }, observer),
  };
  return createGrpcServer(service, implementation, options.logger);
}

/** Reads a client stream, appending full chunks as they fill: how many were appended, and what ended it early. */
async function readStream(call: grpc.ServerReadableStream<EventMessage, unknown>, deps: { publish: Publish; checks: IngestChecks }): Promise<{ accepted: number; error?: unknown }> {
  const { publish, checks } = deps;
  let accepted = 0;
  let index = 0;
  let chunk: IngestEvent[] = [];
  const flush = async () => {
    const events = chunk;
    chunk = [];
    accepted += (await appendEvents(publish, events)).length;
  };
  try {
    for await (const message of call as AsyncIterable<EventMessage>) {
      let events: IngestEvent[];
      try {
        events = checked(checks, [message], { pathOf: () => `/events/${index}`, what: `event ${index} of the stream` });
      } catch (invalid) {
        // the events before the invalid one are appended, as the contract says
        await flush();
        return { accepted, error: invalid };
      }
      chunk.push(...events);
      index++;
      if (chunk.length >= STREAM_CHUNK) await flush();
    }
    await flush();
    return { accepted };
  } catch (error) {
    return { accepted, error };
  }
}

/** The messages as HTTP bodies, once every one is valid; else `schema-violation` listing each issue under its message's path. */
function checked(checks: IngestChecks, messages: readonly EventMessage[], naming: { pathOf: (index: number) => string; what: string }): IngestEvent[] {
  const issues: ValidationIssue[] = [];
  const events = messages.map((message, i) => {
    const own: ValidationIssue[] = [];
    const event = toEvent(message, naming.pathOf(i), own);
    issues.push(...(own.length > 0 ? own : checks.eventIssues(event, naming.pathOf(i))));
    return event;
  });
  assertValid(issues, naming.what);
  return events;
}

/**
 * The HTTP body shape of a message; a properties_json that is not a JSON object, or nests deeper
 * than {@link MAX_PROPERTIES_DEPTH} (counted before it is parsed, as the HTTP gateway counts a
 * body), is an issue.
 */
function toEvent(message: EventMessage, path: string, issues: ValidationIssue[]): IngestEvent {
  let properties: Record<string, unknown> = {};
  const text = message.propertiesJson || '{}';
  if (jsonDepth(text, MAX_PROPERTIES_DEPTH) > MAX_PROPERTIES_DEPTH) {
    issues.push({ path: `${path}/propertiesJson`, message: `must nest arrays and objects at most ${MAX_PROPERTIES_DEPTH} levels deep` });
  } else {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) properties = parsed as Record<string, unknown>;
      else issues.push({ path: `${path}/propertiesJson`, message: 'must be a JSON object' });
    } catch {
      issues.push({ path: `${path}/propertiesJson`, message: 'must be valid JSON' });
    }
  }
  return { ...(message.eventId ? { eventId: message.eventId } : {}), userId: message.userId, type: message.type, timestamp: message.timestamp, properties };
}
