/**
 * Every span name and attribute name this package writes, in one place.
 *
 * Copied (names only) from the OpenTelemetry semantic conventions, as of
 * open-telemetry/semantic-conventions commit 384d661 (docs/messaging/messaging-spans.md,
 * docs/messaging/kafka.md, model/messaging/registry.yaml; HTTP server spans). The messaging
 * conventions are still in development: when they change, this file changes and nothing else.
 * HTTP, `error.type`, `server.*`, `client.*`, `url.*` and `network.*` are stable.
 */

/** `messaging.*` attributes. */
export const MESSAGING = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destinationName: 'messaging.destination.name',
  partitionId: 'messaging.destination.partition.id',
  consumerGroup: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  /** "Sometimes called correlation ID": Herald's `correlationId`. */
  conversationId: 'messaging.message.conversation_id',
  /** Set on a span that covers several messages: how many. */
  batchMessageCount: 'messaging.batch.message_count',
} as const;

/**
 * Values of `messaging.operation.type`; Herald uses the same words for `messaging.operation.name`
 * (`create` where an event is published, `send` where the relay hands it to the broker,
 * `process` where a handler's pipeline runs it). Span names are `{operation} {topic}`.
 */
export const OPERATION = { create: 'create', send: 'send', process: 'process' } as const;

/** `messaging.system` of the embedded log, which no convention names. */
export const HERALD_SYSTEM = 'herald';

/**
 * System-specific attributes live under `messaging.{system}`: on Kafka `messaging.kafka.message.key`
 * and `messaging.kafka.offset`, and the same shape under the system's own name otherwise (the
 * embedded log has Kafka's keys, partitions and offsets).
 */
export function systemAttributes(system: string): { readonly key: string; readonly offset: string } {
  return { key: `messaging.${system}.message.key`, offset: `messaging.${system}.offset` };
}

/** A low-cardinality class of the failure: a Herald error's code, else the error's name. */
export const ERROR_TYPE = 'error.type';

/** The `exception` span event and its attributes (stable). */
export const EXCEPTION = {
  event: 'exception',
  type: 'exception.type',
  message: 'exception.message',
  stacktrace: 'exception.stacktrace',
} as const;

/** HTTP server span attributes (stable). The span is named `{method} {route}`, or `{method}` without a route. */
export const HTTP = {
  method: 'http.request.method',
  route: 'http.route',
  statusCode: 'http.response.status_code',
  urlPath: 'url.path',
  urlScheme: 'url.scheme',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  clientAddress: 'client.address',
  userAgent: 'user_agent.original',
  protocolVersion: 'network.protocol.version',
} as const;

/** Methods `http.request.method` names as they are; any other is `_OTHER`. */
export const HTTP_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

/** `error.type` of a request whose client went away before the response. */
export const ABORTED = 'aborted';

/** Resource attribute naming the service. */
export const SERVICE_NAME = 'service.name';

/** Herald's own attributes, where no convention has a name. */
export const HERALD = {
  eventType: 'herald.event.type',
  handler: 'herald.handler',
  /** How the delivery ended: applied, duplicate, ignored, dead-lettered, parked (or abandoned at close). */
  outcome: 'herald.delivery.outcome',
  attempts: 'herald.delivery.attempts',
  /** Set on an attempt's exception event. */
  attempt: 'herald.delivery.attempt',
  redrive: 'herald.delivery.redrive',
} as const;

/**
 * Record header naming the send span (a `traceparent` value) of a record sent by a traced broker
 * in the app's process. The record's own `traceparent` stays its creation context, as the
 * messaging conventions ask when create spans exist (it is also the event's, since an envelope's
 * headers travel as its record's); a Herald consumer's process span is a child of the send span
 * this header names, linked to the creation context. A record without it (sent by a relay
 * thread, or by another producer) has its process span under its `traceparent`.
 */
export const SEND_CONTEXT_HEADER = 'herald-send-traceparent';
