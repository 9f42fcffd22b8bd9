import type { Middleware } from '../handler.js';

/**
 * Puts the event's identity (id, type, key, correlation and causation ids, trace parent) on the
 * context's logger, so every line a handler logs can be joined to its flow. Outgoing events get
 * the correlation id, the causation id and the trace context from `ctx.publish`.
 */
export function correlation<Tx = unknown>(): Middleware<Tx> {
  return (next) =>
    async function correlationHandler(event, ctx) {
      const logger = ctx.logger.child({
        eventId: event.id,
        eventType: event.type,
        key: event.key,
        correlationId: event.correlationId,
        causationId: event.causationId,
        traceparent: event.headers.traceparent,
      });
      await next(event, ctx.with({ logger }));
    };
}
