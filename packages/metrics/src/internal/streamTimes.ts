import type { Clock, StreamFact, TopicPartition } from '@herald/core';
import type { Gauge } from 'prom-client';

type StreamTimeFact = Extract<StreamFact, { kind: 'stream-time' }>;
type Labels = Record<'group' | 'aggregation' | 'partition', string>;

/** The stream times this process last saw committed, shown as a lag at each scrape. */
export interface StreamTimes {
  /** A `stream-time` fact: one map update per batch and aggregation. */
  set(fact: StreamTimeFact): void;
  /** The partitions left this member: their next owner reports them (a lag kept here would grow for ever). */
  revoked(group: string, partitions: readonly TopicPartition[]): void;
  /** Fills the lag gauge right before a scrape. */
  collect(gauge: Gauge<keyof Labels>): void;
}

/**
 * Follows each (group, aggregation, partition)'s stream time from the `stream-time` facts and
 * turns it into a lag when scraped: now (the app's clock) minus the stream time, in seconds. The
 * lag is computed at the scrape, not at the fact, so a partition whose stream time stopped moving
 * (no records with idle punctuation off, a punctuation failing at every tick) shows a lag that
 * grows, which a value set per batch would not. Not clamped at 0: stream time ahead of the clock
 * is an event time from the future (a producer's clock), worth seeing. A revoked partition's series
 * is dropped (any of the group's topics of that number: a co-partitioned aggregation's stream time
 * is per partition number), and comes back with its next fact here.
 */
export function createStreamTimes(clock: Clock): StreamTimes {
  const times = new Map<string, { readonly labels: Labels; streamTime: number }>();
  return {
    set(fact) {
      const key = `${fact.group}\u0000${fact.aggregation}\u0000${fact.partition}`;
      const known = times.get(key);
      if (known) known.streamTime = fact.streamTime;
      else times.set(key, { labels: { group: fact.group, aggregation: fact.aggregation, partition: String(fact.partition) }, streamTime: fact.streamTime });
    },
    revoked(group, partitions) {
      if (times.size === 0) return;
      const gone = new Set(partitions.map((p) => String(p.partition)));
      for (const [key, { labels }] of times) if (labels.group === group && gone.has(labels.partition)) times.delete(key);
    },
    collect(gauge) {
      const now = clock.now();
      gauge.reset();
      for (const { labels, streamTime } of times.values()) gauge.set(labels, (now - streamTime) / 1000);
    },
  };
}
