import { CoreErrors, isHeraldError, toError, type InstrumentationEvent, type StreamFact, type TopicPartition } from '@herald/core';
import type { AggregateNode } from './graph.js';

/** What one batch or punctuation did to one aggregation of a partition. */
export interface AggregationTally {
  readonly node: AggregateNode;
  /** Records sent to the side output. */
  readonly late: number;
  /** Results emitted downstream. */
  readonly results: number;
  /** The partition's stream time after the change (undefined: the aggregation wrote nothing). */
  readonly streamTime: number | undefined;
}

/** Where a batch or punctuation ran. */
export interface TallyScope {
  readonly group: string;
  /** The topic of the batch; for a punctuation, its idle set's topics joined by `+`. */
  readonly topic: string;
  readonly partition: number;
}

/** The facts of a tally, as the core's instrumentation defines them: nothing for what did not happen. */
export function streamFacts(tally: readonly AggregationTally[], scope: TallyScope): StreamFact[] {
  const { group, topic, partition } = scope;
  const facts: StreamFact[] = [];
  for (const { node, late, results, streamTime } of tally) {
    const aggregation = node.name;
    if (late > 0) facts.push({ kind: 'records-late', group, aggregation, topic, partition, count: late });
    if (results > 0) facts.push({ kind: 'window-results', group, aggregation, partition, count: results });
    if (streamTime !== undefined) facts.push({ kind: 'stream-time', group, aggregation, partition, streamTime });
  }
  return facts;
}

/** The `punctuation-failed` fact of `thrown`: its code, `handler-failed` for an error without one (as a dead letter's reason). */
export function punctuationFailed(group: string, partition: number | undefined, thrown: unknown): StreamFact {
  const error = toError(thrown);
  const reason = isHeraldError(error) ? error.code : CoreErrors.handlerFailed.code;
  return partition === undefined ? { kind: 'punctuation-failed', group, reason, error } : { kind: 'punctuation-failed', group, partition, reason, error };
}

type Handled = Extract<InstrumentationEvent, { kind: 'handled' }>;

/** Holds the facts of batches until they commit (see {@link createCommitFacts}). */
export interface CommitFacts {
  /** A batch's records of `topic`/`partition`, the last being `eventId`, ran in its transaction: its facts wait for its commit. */
  hold(at: TallyScope & { readonly eventId: string }, tally: readonly AggregationTally[]): void;
  /** A `handled` fact of the app: the batch holding the event committed (`applied`) or is over without committing. */
  handled(fact: Handled): void;
  /** The partitions left this member: a batch of theirs still held was abandoned, uncommitted. */
  revoked(group: string, partitions: readonly TopicPartition[]): void;
}

/**
 * Emits a batch's stream facts once its transaction committed, never for an attempt rolled back.
 * A batch handler runs inside the transaction the pipeline commits after it returns, and may run
 * again (a failed batch goes one event at a time, each with its retries); the core says a batch
 * committed only through the `handled` facts it emits afterwards, one per event. So each run is
 * held under its partition and its last event: emitted when that event is reported `applied`,
 * dropped when it is reported otherwise (its attempts rolled back: dead-lettered, parked). A run
 * rolled back is replaced by the next run ending with the same event (the one-by-one path runs
 * every event again), or dropped with that event's report; runs of one partition that overlap (a
 * redrive beside the consumer's batch) are held side by side. A revoked partition's runs go.
 */
export function createCommitFacts(emit: (fact: StreamFact) => void): CommitFacts {
  /** Per partition (group, topic, partition), the facts of each run held, by its last event. */
  const held = new Map<string, Map<string, readonly StreamFact[]>>();
  const id = (group: string, topic: string, partition: number) => `${group}\u0000${topic}\u0000${partition}`;
  return {
    hold(at, tally) {
      const key = id(at.group, at.topic, at.partition);
      const facts = streamFacts(tally, at);
      let runs = held.get(key);
      if (facts.length === 0) runs?.delete(at.eventId);
      else if (runs) runs.set(at.eventId, facts);
      else held.set(key, (runs = new Map([[at.eventId, facts]])));
      if (runs?.size === 0) held.delete(key);
    },
    handled(fact) {
      if (held.size === 0) return;
      const key = id(fact.group, fact.topic, fact.partition);
      const runs = held.get(key);
      const facts = runs?.get(fact.eventId);
      if (!runs || !facts) return;
      runs.delete(fact.eventId);
      if (runs.size === 0) held.delete(key);
      if (fact.outcome === 'applied') for (const f of facts) emit(f);
    },
    revoked(group, partitions) {
      for (const { topic, partition } of partitions) held.delete(id(group, topic, partition));
    },
  };
}
