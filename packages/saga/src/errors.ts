import { defineErrorCodes } from '@herald/core';

/** The error codes the saga runtime adds to the core's; check them with `error.code`. */
export const { specs: SagaErrors, codes: SagaErrorCodes } = defineErrorCodes({
  sagasUnavailable: {
    code: 'sagas-unavailable',
    retriable: false,
    meaning: "A saga was registered (or read) on an app whose stores have no saga store (the hasSagas ability).",
    action: 'Run on stores with saga state: the memory, SQLite and PostgreSQL stores all have it.',
  },
  sagaConflict: {
    code: 'saga-conflict',
    retriable: true,
    meaning: 'A saga instance kept changing under its handler: every save found a newer version than the one it had read.',
    action: 'Retried by the pipeline. If it persists, look for something other than the saga runtime writing the instance.',
  },
  earlyEventsOverflow: {
    code: 'saga-early-events-overflow',
    retriable: false,
    meaning: 'An instance received more events before its start event than it keeps (100): its start event may never come.',
    action: "Find why the flow's start event is missing (a producer outside the saga, a wrong correlation id); redrive the dead letters once it is there, or discard them.",
  },
});
