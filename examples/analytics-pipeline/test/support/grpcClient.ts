import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../src/grpc/protos.js';
import { decodeViolations, STATUS_DETAILS_KEY, type FieldViolation } from '../../src/grpc/status.js';
import type { EventSender } from './client.js';
import type { QueryClient } from './drive.js';
import type { SentEvent, SentMetric } from './scenario.js';

/** A message of `herald.analytics.v1.Event` for an event as the HTTP body holds it. */
export const toMessage = (event: SentEvent | Record<string, unknown>) => {
  const { properties, ...rest } = event as Record<string, unknown>;
  return { ...rest, propertiesJson: JSON.stringify(properties ?? {}) };
};

/** Clients of the producer and analytics gRPC servers, and how to close them. */
export function grpcClients(producer: string, analytics: string) {
  const { Producer, Analytics } = loadServices();
  const credentials = grpc.credentials.createInsecure();
  const clients = { producer: new Producer(producer, credentials), analytics: new Analytics(analytics, credentials) };
  return { ...clients, close: () => (clients.producer.close(), clients.analytics.close()) };
}

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
const deadline = () => ({ deadline: Date.now() + 30_000 });

/** Calls a unary method; resolves with its reply, rejects with the grpc ServiceError. */
export function call<T>(client: grpc.Client, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    (client as Client)[method]!(request, new grpc.Metadata(), deadline(), (error: grpc.ServiceError | null, reply: T) => (error ? reject(error) : resolve(reply)));
  });
}

/** Streams `messages` to `IngestStream`; resolves with the reply, rejects with the ServiceError. */
export function stream(client: grpc.Client, messages: readonly unknown[]): Promise<{ accepted: number }> {
  return new Promise((resolve, reject) => {
    const writable = (client as Client)['IngestStream']!(new grpc.Metadata(), deadline(), (error: grpc.ServiceError | null, reply: { accepted: number }) =>
      error ? reject(error) : resolve(reply),
    ) as grpc.ClientWritableStream<unknown>;
    for (const message of messages) writable.write(message);
    writable.end();
  });
}

/** The field violations a ServiceError carries in `grpc-status-details-bin`. */
export function violationsOf(error: grpc.ServiceError): FieldViolation[] {
  const details = error.metadata.get(STATUS_DETAILS_KEY)[0];
  return details instanceof Buffer ? decodeViolations(details) : [];
}

/** `Ingest`, one call per event, each answered with its id. */
export function grpcUnary(producer: grpc.Client): EventSender {
  return {
    name: 'grpc',
    async send(events) {
      for (const event of events) {
        const reply = await call<{ eventId: string }>(producer, 'Ingest', toMessage(event));
        if (reply.eventId !== event.eventId) throw new Error(`Ingest answered ${reply.eventId} for ${event.eventId}`);
      }
    },
  };
}

/** `RecordMetric` for one sample. */
export function grpcMetric(producer: grpc.Client): (metric: SentMetric) => Promise<void> {
  return async (metric) => {
    const reply = await call<{ accepted: number }>(producer, 'RecordMetric', { ...metric, sampleId: metric.sampleId ?? '' });
    if (reply.accepted !== 1) throw new Error(`RecordMetric answered ${JSON.stringify(reply)}`);
  };
}

/** `IngestBatch` with all the events. */
export function grpcBatch(producer: grpc.Client): EventSender {
  return {
    name: 'grpc-batch',
    async send(events) {
      const reply = await call<{ accepted: number }>(producer, 'IngestBatch', { events: events.map(toMessage) });
      if (reply.accepted !== events.length) throw new Error(`IngestBatch accepted ${reply.accepted} of ${events.length}`);
    },
  };
}

/** `IngestStream`: the events over one client stream. */
export function grpcStream(producer: grpc.Client): EventSender {
  return {
    name: 'grpc-stream',
    async send(events) {
      const reply = await stream(producer, events.map(toMessage));
      if (reply.accepted !== events.length) throw new Error(`IngestStream accepted ${reply.accepted} of ${events.length}`);
    },
  };
}

/** The analytics queries over gRPC; replies have the HTTP answers' shape (camelCase fields, counts as numbers). */
export function grpcQueries(analytics: grpc.Client): QueryClient {
  return {
    counts: (q) => call(analytics, 'Counts', q),
    user: (userId) => call(analytics, 'User', { userId }),
    topTypes: (q) => call(analytics, 'TopTypes', q),
    metricSummary: (name, q) => call(analytics, 'MetricSummary', { name, ...q }),
    late: (q) => call(analytics, 'Late', q),
  };
}
