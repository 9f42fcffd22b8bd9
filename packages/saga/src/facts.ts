import type { InstrumentationEvent } from '@herald/core';
import type { SagaTransition } from './state.js';

/** The instrumentation fact of a saga's transition, emitted once the transaction holding it committed (`ctx.emitAfterCommit`). */
export function factOf(saga: string, transition: SagaTransition): InstrumentationEvent {
  switch (transition.type) {
    case 'SagaStarted':
      return { kind: 'saga', saga, transition: 'started' };
    case 'SagaStepCompleted':
      return { kind: 'saga', saga, transition: 'step-completed', step: transition.step };
    case 'SagaStepTimedOut':
      return { kind: 'saga', saga, transition: 'step-timed-out', step: transition.step };
    case 'SagaStartTimedOut':
      return { kind: 'saga', saga, transition: 'start-timed-out' };
    case 'SagaCompensating':
      return { kind: 'saga', saga, transition: 'compensating' };
    case 'SagaFailed':
      return { kind: 'saga', saga, transition: 'failed', step: transition.step, durationMs: transition.durationMs };
    case 'SagaCompleted':
      return { kind: 'saga', saga, transition: 'completed', durationMs: transition.durationMs };
  }
}
