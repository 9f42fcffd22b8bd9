import type { Clock } from '../../ports/clock.js';
import type { Instrumentation } from '../../ports/instrumentation.js';
import type { Middleware } from '../handler.js';

/**
 * Emits one `handled` instrumentation fact per delivery that is over: the event's identity and
 * position, its outcome (from the delivery state), the attempts made, the time spent, and the
 * end-to-end latency from the event's `occurredAt`. A delivery whose pipeline throws is not over
 * and is not reported: the consumer delivers it again (a dead letter that could not be stored, a
 * consumer closing) or the redrive that ran it reports the failure itself.
 */
export function instrument<Tx = unknown>(options: { instrumentation: Instrumentation; clock: Clock }): Middleware<Tx> {
  const { instrumentation, clock } = options;
  return (next) =>
    async function instrumentHandler(event, ctx) {
      if (!instrumentation.active) return next(event, ctx);
      const started = clock.now();
      await next(event, ctx);
      const { state, delivery } = ctx;
      const ended = clock.now();
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
    };
}
