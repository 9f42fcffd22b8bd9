// definition: what a saga is
export { AWAIT_START_STEP, DEFAULT_AWAIT_START_MS, defineSaga, emit, MAX_DEADLINE_MS, on } from './definition.js';
export type { DefineSagaOptions, SagaCommand, SagaDefinition, SagaStep, SagaStepOptions, SagaTrigger, TriggerOptions } from './definition.js';

// the pure decision logic and its state
export { decideSaga, MAX_EARLY_EVENTS } from './decide.js';
export type {
  DeadlineChange,
  SagaDecision,
  SagaFailure,
  SagaInput,
  SagaOutcome,
  SagaState,
  SagaStatus,
  SagaStepState,
  SagaStepStatus,
  SagaTransition,
} from './state.js';

// given/when/then tests of the decision logic
export { givenSaga, sagaEvent } from './scenario.js';
export type { GivenSagaOptions, PublishedBySaga, SagaEventOptions, SagaScenario, SagaStepResult } from './scenario.js';

// the saga topic's events
export { sagaEvents } from './events.js';
export type { SagaEventData, SagaEvents } from './events.js';

// running and reading sagas in an app
export { deadlineTimerId, registerSaga } from './register.js';
export type { RegisterSagaOptions, SagaChange } from './register.js';
export { findSaga } from './read.js';

export { SagaErrorCodes, SagaErrors } from './errors.js';
