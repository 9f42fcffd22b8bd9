import { policyStep, type DeliveryState, type InstrumentationEvent, type Pipeline, type PolicyStep } from '@herald/core';
import type { SagaTransition } from './state.js';

/** The facts of one delivery's attempt, waiting for its transaction to commit. */
const pending = new WeakMap<DeliveryState, InstrumentationEvent[]>();

/**
 * The `sagaFacts` step: runs just outside the transaction, so once the inner steps resolve the
 * transaction holding the saga's change has committed; only then are the facts the handler
 * recorded (see {@link recordFacts}) emitted on the app's instrumentation. An attempt that fails
 * or rolls back emits nothing; each retry records afresh.
 */
function factsStep<Tx>(): PolicyStep<Tx> {
  return policyStep<Tx>('sagaFacts', {
    create: (env) => (next) =>
      async function sagaFacts(event, ctx) {
        const facts: InstrumentationEvent[] = [];
        pending.set(ctx.state, facts);
        try {
          await next(event, ctx);
        } finally {
          pending.delete(ctx.state);
        }
        for (const fact of facts) env.instrumentation.emit(fact);
      },
  });
}

/** The pipeline with the `sagaFacts` step just outside `transaction` (innermost when there is none). */
export function withFacts<Tx>(pipeline: Pipeline<Tx>): Pipeline<Tx> {
  return pipeline.has('transaction') ? pipeline.insertBefore('transaction', factsStep<Tx>()) : pipeline.append(factsStep<Tx>());
}

/**
 * Forgets what an earlier run of the handler recorded in this attempt: a store may run a
 * transaction's work again (SQLite's group commit re-runs the works of a batch that rolled back),
 * and only the run that commits may count.
 */
export function clearFacts(state: DeliveryState): void {
  const facts = pending.get(state);
  if (facts) facts.length = 0;
}

/** Records the instrumentation facts of a saga's transitions, for the `sagaFacts` step to emit after commit. */
export function recordFacts(state: DeliveryState, saga: string, transitions: readonly SagaTransition[]): void {
  const facts = pending.get(state);
  if (!facts) return;
  for (const transition of transitions) facts.push(factOf(saga, transition));
}

function factOf(saga: string, transition: SagaTransition): InstrumentationEvent {
  switch (transition.type) {
    case 'SagaStarted':
      return { kind: 'saga', saga, transition: 'started' };
    case 'SagaStepCompleted':
      return { kind: 'saga', saga, transition: 'step-completed', step: transition.step };
    case 'SagaStepTimedOut':
      return { kind: 'saga', saga, transition: 'step-timed-out', step: transition.step };
    case 'SagaCompensating':
      return { kind: 'saga', saga, transition: 'compensating' };
    case 'SagaFailed':
      return { kind: 'saga', saga, transition: 'failed', step: transition.step, durationMs: transition.durationMs };
    case 'SagaCompleted':
      return { kind: 'saga', saga, transition: 'completed', durationMs: transition.durationMs };
  }
}
