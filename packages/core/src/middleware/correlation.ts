import { deriveContext, type Middleware } from '../handler.js';

/**
 * Puts the event's identity (id, type, key, correlation and causation ids) on the context's logger,
 * so every line a handler logs can be joined to its flow. Outgoing events get the correlation id,
 * the causation id and the trace context (`traceparent`, `tracestate`) from `ctx.publish`.
 */
export function correlation(): Middleware {
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
      await next(event, deriveContext(ctx, { logger }));
    };
}
