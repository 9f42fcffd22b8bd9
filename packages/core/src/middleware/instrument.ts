import type { Clock } from '../clock.js';
import type { Middleware } from '../handler.js';
import type { Instrumentation } from '../instrumentation.js';
import { stateOf } from '../internal/state.js';

/** Emits one `handled` instrumentation event per delivery, with its outcome, attempts, duration and end-to-end latency. */
export function instrument(options: { instrumentation: Instrumentation; clock: Clock }): Middleware {
  const { instrumentation, clock } = options;
  return (next) =>
    async function instrumentHandler(event, ctx) {
      if (!instrumentation.active) return next(event, ctx);
      const started = clock.now();
      try {
        await next(event, ctx);
      } finally {
        const state = stateOf(ctx);
        const ended = clock.now();
        if (!state.closing.aborted) {
          instrumentation.emit({
            kind: 'handled',
            group: ctx.group,
            handler: ctx.handler,
            eventType: event.type,
            outcome: state.outcome,
            attempts: state.attempts,
            durationMs: ended - started,
            latencyMs: ended - Date.parse(event.occurredAt),
          });
        }
      }
    };
}
