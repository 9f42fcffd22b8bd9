import { Type } from '@sinclair/typebox';
import { CoreErrors, defineEvent, HeraldError, type Envelope, type EventDefinition, type WindowStore } from '@herald/core';
import { StreamErrors } from '../errors.js';
import type { WindowResult } from '../types.js';
import type { AggregateNode } from './graph.js';
import type { GroupPlan } from './plan.js';
import { resultLetterType, type ResultLetterData } from './resultFailures.js';

const ResultLetterSchema = Type.Object({
  aggregation: Type.String(),
  store: Type.String(),
  key: Type.String({ minLength: 1 }),
  start: Type.Integer(),
  end: Type.Integer(),
  kind: Type.Union([Type.Literal('final'), Type.Literal('update'), Type.Literal('merged')]),
  value: Type.Unknown(),
});

/** The longest event type a definition takes (the core's name rule). */
const MAX_TYPE_LENGTH = 200;

/**
 * The definition of a group's window-result letters, on a topic the group reads: registered with
 * the group's batch handler, so a redrive finds that handler by the letter's type, in process
 * (`app.redrive`) and through the log (`herald dlq redrive` appends the letter's envelope to its
 * topic, addressed to the group; the app's other groups ignore it by that address). Nothing
 * publishes events of this type: the definition only reads letters back.
 */
export function resultLetterDefinition(group: string, topic: string): EventDefinition {
  const type = resultLetterType(group);
  if (type.length > MAX_TYPE_LENGTH) {
    throw new HeraldError(CoreErrors.invalidOptions, `stream group ${group}: its name is too long for its window-result letters' event type ${type} (at most ${MAX_TYPE_LENGTH} characters)`);
  }
  return defineEvent({ type, topic, schema: ResultLetterSchema, key: (data) => data.key });
}

/** A redriven window result, read from its letter's envelope: the aggregation it came from and the result. */
export interface RedrivenResult {
  readonly node: AggregateNode;
  readonly result: WindowResult<unknown>;
}

/**
 * The window result a redriven letter holds, or undefined for any other event. Its aggregation is
 * found by name and window store, as when it was lettered; one renamed or removed since is refused
 * (`result-aggregation-unknown`, not retriable: the letter stays dead). The result goes to the
 * aggregation's downstream only: its window closed (or moved on) when it was first emitted.
 */
export function redrivenResult(plan: GroupPlan, event: Envelope): RedrivenResult | undefined {
  if (event.type !== resultLetterType(plan.group)) return undefined;
  const data = event.data as ResultLetterData;
  const node = plan.aggregations.find((a) => a.name === data.aggregation && a.store === data.store);
  if (node === undefined) {
    throw new HeraldError(
      StreamErrors.resultAggregationUnknown,
      `stream group ${plan.group}: the redriven result of aggregation ${data.aggregation} (store ${data.store}) has no such aggregation in the topology any more`,
      { details: { aggregation: data.aggregation, store: data.store, key: data.key, start: data.start, end: data.end } },
    );
  }
  return { node, result: { key: data.key, start: data.start, end: data.end, kind: data.kind, value: data.value } };
}

/**
 * What a redriven result emits. A final result, and a merged session's, as its letter holds it: a
 * closed window's value never changes, a merged session stays gone. An update is an entry of a
 * changelog, whose consumer keeps the latest value per window (as a Kafka Streams update stream's
 * does): the letter's value may be older than one emitted since (a later record updated the
 * window, and its result went through), and emitted after it would take the consumer back. So,
 * while its window is still held, the update emits the window's current value (for a session, the
 * held session of its key that contains it: it may have grown or merged since), read in the
 * redrive's transaction: never older than what went downstream, at worst the latest again. Once
 * the window has closed, the letter's value is emitted: Herald keeps no record of what was emitted
 * for a closed window, and the value is the newest one that failed.
 */
export async function redrivenValue(
  at: { windows: WindowStore<unknown> | undefined; tx: unknown; partition: number },
  redriven: RedrivenResult,
): Promise<WindowResult<unknown>> {
  const { node, result } = redriven;
  if (result.kind !== 'update' || at.windows === undefined) return result;
  let held: { start: number; end: number; value: string } | undefined;
  await at.windows.update(at.tx, { store: node.store, partition: at.partition }, [result.key], (state) => {
    held = state.windows.find((w) =>
      w.key === result.key && (node.windows.kind === 'time' ? w.start === result.start : w.start <= result.start && w.end >= result.end),
    );
    return undefined; // a read, under the partition's lock: nothing written, nothing closed
  });
  return held === undefined ? result : { key: result.key, start: held.start, end: held.end, value: JSON.parse(held.value) as unknown, kind: 'update' };
}
