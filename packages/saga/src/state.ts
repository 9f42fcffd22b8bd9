import type { Envelope } from '@herald/core';
import type { SagaCommand } from './definition.js';

/**
 * Where an instance stands. `awaiting-start`: events of its flow arrived before the event that
 * starts it (they come from other topics, so nothing orders them); they are kept and applied once
 * it starts. `running`: started, not ended. `completed`: every step completed. `failed`: a step
 * failed or missed its deadline, and the completed steps were compensated; or its start event did
 * not come within the saga's `awaitStartMs` (failure step `(start)`, `startedAt` null).
 */
export type SagaStatus = 'awaiting-start' | 'running' | 'completed' | 'failed';

/**
 * Where a step stands. `waiting`: an earlier step has not completed yet. `active`: its turn, its
 * deadline running (a step still active when the saga failed stays so). `completed`, `failed`,
 * `timed-out` (its deadline passed first). `compensated`: it completed (possibly after the saga
 * had failed: a late completion) and its compensation was sent.
 */
export type SagaStepStatus = 'waiting' | 'active' | 'completed' | 'failed' | 'timed-out' | 'compensated';

/** One step of an instance. Times are ms since the epoch. */
export interface SagaStepState {
  readonly name: string;
  readonly status: SagaStepStatus;
  /** When it became active. */
  readonly startedAt: number | null;
  /** When its deadline passes (null: none, or not active yet). */
  readonly deadlineAt: number | null;
  /** When it completed, failed, timed out or was compensated. */
  readonly endedAt: number | null;
  /** Why it failed, timed out or was compensated. */
  readonly reason: string | null;
}

/** Why an instance failed. */
export interface SagaFailure {
  /** The step that failed; `(start)` (`AWAIT_START_STEP`) for an instance whose start event never came. */
  readonly step: string;
  readonly reason: string;
  /** True when the step missed its deadline; false when an event failed it. */
  readonly timedOut: boolean;
}

/** One saga instance: the state its handler keeps in the store (as JSON, so `Data` must be JSON). */
export interface SagaState<Data> {
  readonly saga: string;
  /** The correlation id of the flow. */
  readonly instanceId: string;
  readonly status: SagaStatus;
  /** The saga's own data; null until it starts. */
  readonly data: Data | null;
  readonly steps: readonly SagaStepState[];
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly failure: SagaFailure | null;
  /** Events that arrived before the start event, applied (in arrival order) once it comes. */
  readonly early: readonly Envelope[];
}

/** What the saga is told: an event of its flow, or that a step's deadline passed. */
export type SagaInput =
  | { readonly kind: 'event'; readonly event: Envelope }
  | { readonly kind: 'deadline'; readonly step: string; readonly deadlineAt: number };

/** A transition of an instance, as published on the saga topic (with `saga` and `instanceId`). */
export type SagaTransition =
  | { readonly type: 'SagaStarted'; readonly steps: readonly string[] }
  | { readonly type: 'SagaStepCompleted'; readonly step: string }
  | { readonly type: 'SagaStepTimedOut'; readonly step: string; readonly deadlineAt: number }
  | { readonly type: 'SagaStartTimedOut'; readonly deadlineAt: number; readonly earlyEvents: number }
  | { readonly type: 'SagaCompensating'; readonly steps: readonly string[]; readonly reason: string }
  | { readonly type: 'SagaFailed'; readonly step: string; readonly reason: string; readonly timedOut: boolean; readonly durationMs: number }
  | { readonly type: 'SagaCompleted'; readonly durationMs: number };

/** A change to a step's deadline timer. */
export type DeadlineChange = { readonly kind: 'schedule'; readonly step: string; readonly at: number } | { readonly kind: 'cancel'; readonly step: string };

/** What an input did: changed the instance, nothing, or was kept until the instance starts. */
export type SagaOutcome = 'applied' | 'ignored' | 'deferred';

/** The result of {@link decideSaga}: the new state and everything it asks for, as data. */
export interface SagaDecision<Data> {
  readonly outcome: SagaOutcome;
  /** The instance after the input (the same object as before when ignored; undefined when there was none). */
  readonly state: SagaState<Data> | undefined;
  /** In the order they happened. */
  readonly transitions: readonly SagaTransition[];
  /** Events to publish: compensations, step starts and the saga's ends, in order. */
  readonly commands: readonly SagaCommand[];
  readonly deadlines: readonly DeadlineChange[];
}
