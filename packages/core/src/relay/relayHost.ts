import type { OutgoingRecord } from '../ports/broker.js';
import type { Instrumentation } from '../ports/instrumentation.js';
import type { Logger } from '../ports/logger.js';
import type { Relay, RelayOptions } from './relay.js';

/**
 * Runs the outbox relay elsewhere than the app's event loop — the embedded engine's can run it in
 * a worker thread, on a second core. `createApp` uses an engine's host (`AppOptions.relayHost`)
 * instead of {@link createRelay}; the relay's facts still reach the app's instrumentation.
 */
export interface RelayHost {
  createRelay(options: RelayOptions, deps: RelayHostDeps): Relay;
}

/** What a {@link RelayHost}'s relay gets from the app. */
export interface RelayHostDeps {
  readonly instrumentation: Instrumentation;
  readonly logger: Logger;
  /**
   * Called on the app's thread after each broker publish of the relay, with what it sent. A
   * relay run elsewhere publishes with a broker of its own, out of reach of a wrapper around the
   * app's broker; this is how a tracer still records its sends. Absent: nothing is collected.
   */
  readonly onSent?: (sent: RelaySent) => void;
}

/** One broker publish of a relay run elsewhere (see {@link RelayHostDeps.onSent}). */
export interface RelaySent {
  /** When the publish started and when it settled, ms since the epoch. */
  readonly startedAt: number;
  readonly endedAt: number;
  /**
   * The records, grouped by topic and creation context (`traceparent`, as the records carried it,
   * absent when they carried none), in the order each group first appeared; `key` is the first
   * record's. Records whose creation context names a trace its creator did not sample (a W3C
   * `traceparent` whose sampled flag is clear) are left out: no span is recorded below an
   * unsampled parent, and a relay run elsewhere would copy each one to the app's thread for nothing.
   */
  readonly groups: readonly RelaySentGroup[];
  /** Why the publish failed, if it did (its records stay in the outbox and are published again). */
  readonly error?: Error;
}

export interface RelaySentGroup {
  readonly topic: string;
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly count: number;
  readonly key: string;
}

type OpenGroup = { -readonly [K in keyof RelaySentGroup]: RelaySentGroup[K] };

/** Groups records as {@link RelaySent} reports them, without the records of unsampled traces. */
export function groupSent(records: readonly OutgoingRecord[]): RelaySentGroup[] {
  const groups = new Map<string, OpenGroup>();
  let last: OpenGroup | undefined;
  for (const record of records) {
    const traceparent = record.headers?.['traceparent'];
    // a run of records created together (one publish.many call) is one group: no key to build
    if (last !== undefined && last.topic === record.topic && last.traceparent === traceparent) {
      last.count++;
      continue;
    }
    if (traceparent !== undefined && notSampled(traceparent)) continue;
    const id = traceparent === undefined ? record.topic : `${record.topic}\u0000${traceparent}`;
    last = groups.get(id);
    if (last) last.count++;
    else {
      const tracestate = record.headers?.['tracestate'];
      last = { topic: record.topic, ...(traceparent === undefined ? {} : { traceparent }), ...(tracestate === undefined ? {} : { tracestate }), count: 1, key: record.key };
      groups.set(id, last);
    }
  }
  return [...groups.values()];
}

/**
 * Whether a `traceparent` of version 00 (`00-{trace id}-{parent id}-{flags}`) has its sampled flag
 * (the flags' lowest bit) clear. Anything else, valid or not, is reported: the tracer judges it.
 */
function notSampled(traceparent: string): boolean {
  return traceparent.length === 55 && traceparent.startsWith('00-') && UNSAMPLED_FLAGS.test(traceparent.slice(53));
}

/** Two lowercase hex digits, the last one even. */
const UNSAMPLED_FLAGS = /^[0-9a-f][02468ace]$/;
