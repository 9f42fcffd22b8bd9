import type { Clock } from '../../ports/clock.js';
import type { Instrumentation } from '../../ports/instrumentation.js';
import type { Middleware } from '../handler.js';

/**
 * Emits one `handled` instrumentation fact per delivery, once it is over: the event's identity and
 * position, its outcome (from the delivery state), the attempts made, the time spent, and the
 * end-to-end latency from the event's `occurredAt`. A delivery abandoned because the consumer is
 * closing is not reported: it will be delivered again.
 */
export function instrument<Tx = unknown>(options: { instrumentation: Instrumentation; clock: Clock }): Middleware<Tx> {
  const { instrumentation, clock } = options;
  return (next) =>
    async function instrumentHandler(event, ctx) {
      if (!instrumentation.active) return next(event, ctx);
      const started = clock.now();
      try {
        await next(event, ctx);
      } finally {
        const { state, delivery } = ctx;
        const ended = clock.now();
        if (!state.closing.aborted) {
          instrumentation.emit({
            kind: 'handled',
            group: ctx.group,
            handler: ctx.handler,
            eventId: event.id,
            eventType: event.type,
            topic: delivery.topic,
            partition: delivery.partition,
            offset: delivery.offset,
            outcome: state.outcome ?? 'applied',
            attempts: state.attempts,
            durationMs: ended - started,
            latencyMs: ended - Date.parse(event.occurredAt),
          });
        }
      }
    };
}
