import * as grpc from '@grpc/grpc-js';
import type { Logger, Publish, ValidationIssue } from '@herald/core';
import { appendEvents, appendMetric, assertValid, eventIssues, MAX_BATCH, metricIssues, type IngestEvent } from '../ingest.js';
import { createGrpcServer, unary, type GrpcServer } from './server.js';
import { toServiceError } from './status.js';

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
  /** Counts a failed call (`errors_total{source="grpc"}`). */
  readonly onError: (code: string) => void;
}

/**
 * The producer's gRPC server (`proto/producer.proto`): `Ingest`, `IngestBatch` (all or nothing),
 * client-streaming `IngestStream` (appended in chunks as it comes; an invalid event ends the call
 * with INVALID_ARGUMENT, the events before it stay appended and are counted in the `accepted`
 * trailer) and `RecordMetric`. Each event is checked as the HTTP body is, and appended the same way.
 */
export function createProducerGrpc(service: grpc.ServiceDefinition, options: ProducerGrpcOptions): GrpcServer {
  const { publish, onError } = options;
  const implementation: grpc.UntypedServiceImplementation = {
    Ingest: unary(async (message: EventMessage) => {
      const [event] = checked([message], () => '', 'event');
      const [eventId] = await appendEvents(publish, [event!]);
      return { eventId };
    }, onError),
    IngestBatch: unary(async (message: { events: EventMessage[] }) => {
      if (message.events.length < 1 || message.events.length > MAX_BATCH) {
        assertValid([{ path: '/events', message: `must hold 1 to ${MAX_BATCH} events, got ${message.events.length}` }], 'batch');
      }
      const events = checked(message.events, (i) => `/events/${i}`, `batch of ${message.events.length} events (none was accepted)`);
      return { accepted: (await appendEvents(publish, events)).length };
    }, onError),
    IngestStream: (call: grpc.ServerReadableStream<EventMessage, { accepted: number }>, callback: grpc.sendUnaryData<{ accepted: number }>) => {
      void readStream(call, publish).then(({ accepted, error }) => {
        if (error === undefined) return callback(null, { accepted });
        const trailer = new grpc.Metadata();
        trailer.set('accepted', String(accepted));
        const status = toServiceError(error, trailer);
        onError(grpc.status[status.code!]);
        callback(status);
      });
    },
    RecordMetric: unary(async (message: MetricMessage) => {
      const sample = { ...(message.sampleId ? { sampleId: message.sampleId } : {}), name: message.name, value: message.value, timestamp: message.timestamp, labels: { ...message.labels } };
      assertValid(metricIssues(sample), 'metric');
      await appendMetric(publish, sample);
      return { accepted: 1 };
    }, onError),
  };
  return createGrpcServer(service, implementation, options.logger);
}

/** Reads a client stream, appending full chunks as they fill: how many were appended, and what ended it early. */
async function readStream(call: grpc.ServerReadableStream<EventMessage, unknown>, publish: Publish): Promise<{ accepted: number; error?: unknown }> {
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
        events = checked([message], () => `/events/${index}`, `event ${index} of the stream`);
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
function checked(messages: readonly EventMessage[], pathOf: (index: number) => string, what: string): IngestEvent[] {
  const issues: ValidationIssue[] = [];
  const events = messages.map((message, i) => {
    const own: ValidationIssue[] = [];
    const event = toEvent(message, pathOf(i), own);
    issues.push(...(own.length > 0 ? own : eventIssues(event, pathOf(i))));
    return event;
  });
  assertValid(issues, what);
  return events;
}

/** The HTTP body shape of a message; a properties_json that is not a JSON object is an issue. */
function toEvent(message: EventMessage, path: string, issues: ValidationIssue[]): IngestEvent {
  let properties: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(message.propertiesJson || '{}');
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) properties = parsed as Record<string, unknown>;
    else issues.push({ path: `${path}/propertiesJson`, message: 'must be a JSON object' });
  } catch {
    issues.push({ path: `${path}/propertiesJson`, message: 'must be valid JSON' });
  }
  return { ...(message.eventId ? { eventId: message.eventId } : {}), userId: message.userId, type: message.type, timestamp: message.timestamp, properties };
}
