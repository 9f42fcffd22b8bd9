import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { defineEvent, type EventDefinition } from '@herald/core';

const Instance = { saga: Type.String({ minLength: 1 }), instanceId: Type.String({ minLength: 1 }) };
/** An ISO 8601 UTC time, as envelopes carry `occurredAt`. */
const ISO_TIME = Type.String({ minLength: 20, maxLength: 30 });

function schema<P extends TProperties>(properties: P) {
  return Type.Object({ ...Instance, ...properties });
}

const Schemas = {
  SagaStarted: schema({ steps: Type.Array(Type.String()) }),
  SagaStepCompleted: schema({ step: Type.String() }),
  SagaStepTimedOut: schema({ step: Type.String(), deadlineAt: ISO_TIME }),
  SagaStartTimedOut: schema({ deadlineAt: ISO_TIME, earlyEvents: Type.Integer({ minimum: 0 }) }),
  SagaCompensating: schema({ steps: Type.Array(Type.String()), reason: Type.String() }),
  SagaFailed: schema({ step: Type.String(), reason: Type.String(), timedOut: Type.Boolean(), durationMs: Type.Integer({ minimum: 0 }) }),
  SagaCompleted: schema({ durationMs: Type.Integer({ minimum: 0 }) }),
  SagaDeadlineReached: schema({ step: Type.String(), deadlineAt: Type.Integer() }),
};

type Definitions = { readonly [K in keyof typeof Schemas]: EventDefinition<(typeof Schemas)[K]> };

/**
 * The events of one saga topic: the transitions instances publish there (seed 000's six names, and
 * `SagaStartTimedOut` for an instance whose start event never came), keyed by instance id, and `SagaDeadlineReached`, the event a step's deadline timer
 * publishes on `<topic>-deadlines` for the saga's own handler. Follow a saga from another service
 * with these definitions: `app.on(sagaEvents('order-saga').SagaFailed, ...)`.
 */
export interface SagaEvents extends Definitions {
  /** The transitions' topic. */
  readonly topic: string;
  /** The deadlines' topic, `<topic>-deadlines`. */
  readonly deadlineTopic: string;
  /** The transition definitions, in lifecycle order. */
  readonly transitions: readonly EventDefinition<TObject>[];
}

/** The data of each transition event. */
export type SagaEventData = { readonly [K in keyof typeof Schemas]: Static<(typeof Schemas)[K]> };

const byTopic = new Map<string, SagaEvents>();

/** The event definitions of a saga topic (the same objects for the same topic, so apps can register them more than once). */
export function sagaEvents(topic: string): SagaEvents {
  let events = byTopic.get(topic);
  if (events) return events;
  const define = <S extends TObject>(type: string, schema: S, onTopic = topic) =>
    defineEvent({ type, topic: onTopic, key: (d: Static<S>) => (d as unknown as { instanceId: string }).instanceId, schema });
  const deadlineTopic = `${topic}-deadlines`;
  const transitions = {
    SagaStarted: define('SagaStarted', Schemas.SagaStarted),
    SagaStepCompleted: define('SagaStepCompleted', Schemas.SagaStepCompleted),
    SagaStepTimedOut: define('SagaStepTimedOut', Schemas.SagaStepTimedOut),
    SagaStartTimedOut: define('SagaStartTimedOut', Schemas.SagaStartTimedOut),
    SagaCompensating: define('SagaCompensating', Schemas.SagaCompensating),
    SagaFailed: define('SagaFailed', Schemas.SagaFailed),
    SagaCompleted: define('SagaCompleted', Schemas.SagaCompleted),
  };
  events = Object.freeze({
    topic,
    deadlineTopic,
    ...transitions,
    SagaDeadlineReached: define('SagaDeadlineReached', Schemas.SagaDeadlineReached, deadlineTopic),
    transitions: Object.values(transitions) as EventDefinition<TObject>[],
  });
  byTopic.set(topic, events);
  return events;
}
