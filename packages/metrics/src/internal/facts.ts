import { isChaosError, type DeliveryOutcome, type InstrumentationEvent, type InstrumentationListener, type SagaTransitionKind } from '@herald/core';
import { CHAOS_CAUSE, ERROR_CAUSE } from '../names.js';
import type { Instruments } from './instruments.js';
import type { CounterSeries, HistogramSeries } from './series.js';
import type { StreamTimes } from './streamTimes.js';

/** Every saga transition, as a label value in Prometheus' own style: started, step_completed, step_timed_out... */
const SAGA_TRANSITIONS = Object.keys({
  started: 0,
  'step-completed': 0,
  'step-timed-out': 0,
  compensating: 0,
  completed: 0,
  failed: 0,
  'start-timed-out': 0,
} satisfies Record<SagaTransitionKind, 0>).map(transitionLabel);

/** The outcomes a `handled` fact carries (the consumer skips an `ignored` delivery without one). */
const HANDLED_OUTCOMES = Object.keys({
  applied: 0,
  duplicate: 0,
  'dead-lettered': 0,
  parked: 0,
} satisfies Record<Exclude<DeliveryOutcome, 'ignored'>, 0>);

function transitionLabel(transition: string): string {
  return transition.replaceAll('-', '_');
}

/**
 * Turns the core's instrumentation facts into counters, histograms and this process' gauges.
 * `lagFromFacts`: the broker cannot be inspected, so the lag gauge follows the `lag` facts of this
 * process' groups (emitted at each commit) instead of the polled read side. `streamTimes` keeps the
 * streams' `stream-time` facts for the stream time lag gauge, computed at each scrape.
 */
export function factsListener(instruments: Instruments, options: { readonly lagFromFacts: boolean; readonly streamTimes: StreamTimes }): InstrumentationListener {
  const { counters, histograms, gauges } = instruments;
  /** The series a `handled` fact adds to, per group, topic, type and outcome: looked up once per label set. */
  const handledSeries = new Map<string, { handled: CounterSeries; duration: HistogramSeries; critical: HistogramSeries }>();
  const handledOf = (group: string, topic: string, eventType: string, outcome: string) => {
    const key = `${group}\u0000${topic}\u0000${eventType}\u0000${outcome}`;
    let series = handledSeries.get(key);
    if (!series) {
      // every outcome of this group, topic and type at 0 from its first fact: the first dead letter
      // is then an increase of a series Prometheus already saw at 0, not a series born at 1 that
      // rate() and increase() miss (this runs at an outcome's first fact only, not per event)
      for (const other of HANDLED_OUTCOMES) counters.handled.series({ group, topic, event_type: eventType, outcome: other });
      const labels = { group, event_type: eventType };
      series = {
        handled: counters.handled.series({ group, topic, event_type: eventType, outcome }),
        duration: histograms.handlerDuration.series(labels),
        critical: histograms.criticalTime.series(labels),
      };
      handledSeries.set(key, series);
    }
    return series;
  };
  // both causes at 0 from the start: the first failure is an increase Prometheus sees, not a series born at 1
  for (const cause of [CHAOS_CAUSE, ERROR_CAUSE]) counters.relayFailures.series({ cause });
  const knownSagas = new Set<string>();
  /** The reason each held partition (group, topic, partition) is labelled with now: to remove its series once it moves or is held for another reason. */
  const held = new Map<string, string>();
  /**
   * A saga's transitions, all at 0 from its first fact on: a failure is then an increase of a
   * series Prometheus already saw at 0, not a series born at 1 that `increase()` misses.
   */
  const sagaSeen = (saga: string) => {
    if (knownSagas.has(saga)) return;
    knownSagas.add(saga);
    for (const transition of SAGA_TRANSITIONS) counters.sagaTransitions.series({ saga, transition });
  };
  return function recordFact(fact: InstrumentationEvent) {
    switch (fact.kind) {
      case 'published':
        counters.published.inc({ topic: fact.topic, event_type: fact.eventType }, fact.count);
        return;
      case 'relayed':
        counters.relayed.inc(fact.count);
        histograms.relayDuration.observe(fact.durationMs / 1000);
        return;
      case 'relay-failed':
        counters.relayFailures.inc({ cause: isChaosError(fact.error) ? CHAOS_CAUSE : ERROR_CAUSE });
        return;
      case 'handled': {
        const series = handledOf(fact.group, fact.topic, fact.eventType, fact.outcome);
        series.handled.value++;
        histograms.handlerDuration.record(series.duration, Math.max(0, fact.durationMs) / 1000);
        // a duplicate or parked delivery did not do the event's work: its end-to-end time means nothing
        if (fact.outcome === 'applied') histograms.criticalTime.record(series.critical, Math.max(0, fact.latencyMs) / 1000);
        return;
      }
      case 'retried':
        counters.retries.inc({ group: fact.group, event_type: fact.eventType });
        return;
      case 'dead-lettered':
        counters.deadLettered.inc({ group: fact.group, handler: fact.handler, reason: fact.reason, status: fact.status });
        return;
      case 'redriven':
        counters.redriven.inc({ group: fact.group, handler: fact.handler }, fact.count);
        return;
      case 'upcast':
        counters.upcast.inc({ group: fact.group, event_type: fact.eventType, from_version: String(fact.fromVersion), to_version: String(fact.toVersion) });
        return;
      case 'records-skipped':
        counters.recordsSkipped.inc({ group: fact.group, topic: fact.topic, partition: String(fact.partition) }, fact.count);
        return;
      case 'reply-dropped':
        counters.repliesDropped.inc({ reply_type: fact.replyType, reason: fact.reason });
        return;
      case 'request-expired':
        counters.requestsExpired.inc({ group: fact.group, request_type: fact.requestType });
        return;
      case 'assigned':
        gauges.assigned.inc({ group: fact.group }, fact.partitions.length);
        return;
      case 'partition-held': {
        const id = `${fact.group}\u0000${fact.topic}\u0000${fact.partition}`;
        const labels = { group: fact.group, topic: fact.topic, partition: String(fact.partition) };
        // held again for another reason (a later batch unreadable for another cause): it counts
        // under its current reason only, not at 1 under both
        const previous = held.get(id);
        if (previous !== undefined && previous !== fact.reason) gauges.held.remove({ ...labels, reason: previous });
        held.set(id, fact.reason);
        gauges.held.set({ ...labels, reason: fact.reason }, 1);
        return;
      }
      case 'revoked':
        gauges.assigned.dec({ group: fact.group }, fact.partitions.length);
        // a held partition that moved is read again by its new owner (which reports its own hold)
        for (const p of fact.partitions) {
          const id = `${fact.group}\u0000${p.topic}\u0000${p.partition}`;
          const reason = held.get(id);
          if (reason === undefined) continue;
          held.delete(id);
          gauges.held.remove({ group: fact.group, topic: p.topic, partition: String(p.partition), reason });
        }
        // the new owner reports the partition's lag now: a lag kept here would stay frozen forever
        if (options.lagFromFacts) for (const p of fact.partitions) gauges.lag.remove({ group: fact.group, topic: p.topic, partition: String(p.partition) });
        options.streamTimes.revoked(fact.group, fact.partitions);
        return;
      case 'timers-fired':
        counters.timersFired.inc(fact.count);
        return;
      case 'saga':
        sagaSeen(fact.saga);
        counters.sagaTransitions.inc({ saga: fact.saga, transition: transitionLabel(fact.transition) });
        if ((fact.transition === 'completed' || fact.transition === 'failed') && fact.durationMs !== undefined) {
          histograms.sagaDuration.observe({ saga: fact.saga, outcome: fact.transition }, Math.max(0, fact.durationMs) / 1000);
        }
        return;
      case 'lag':
        if (options.lagFromFacts) gauges.lag.set({ group: fact.group, topic: fact.topic, partition: String(fact.partition) }, fact.lag);
        return;
      // the streams' facts come once per batch (or punctuation) and aggregation, not per record
      case 'records-late':
        counters.streamLate.inc({ group: fact.group, aggregation: fact.aggregation, topic: fact.topic, partition: String(fact.partition) }, fact.count);
        return;
      case 'window-results':
        counters.streamResults.inc({ group: fact.group, aggregation: fact.aggregation }, fact.count);
        return;
      case 'stream-time':
        options.streamTimes.set(fact);
        return;
      case 'punctuation-failed':
        counters.punctuationFailures.inc({ group: fact.group, reason: fact.reason });
        return;
    }
  };
}
