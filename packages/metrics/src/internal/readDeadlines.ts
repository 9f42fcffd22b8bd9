import { CoreErrors, HeraldError, type Clock } from '@herald/core';

/**
 * Deadlines one read may miss in a row before the polls stop waiting for it and the next starts a
 * new read. Waiting (rather than starting a read at every poll) keeps a query stuck on a lock from
 * being joined by one more at every poll on a pool of a few connections; giving up keeps a read
 * that never ends (a connection cut without a reset, no keepalive) from freezing its source's
 * gauges for the life of the process. With the defaults (30 s deadline, 10 s interval) a read is
 * given up on after about two minutes.
 */
export const GIVE_UP_AFTER_DEADLINES = 3;

/**
 * One read of a source: resolves with what shows its answer (run only if no newer read of the
 * source has ended: a read given up on that answers late must not put older values back).
 */
export type TimedRead = () => Promise<() => void>;

type Outcome = { readonly ok: true; readonly show: () => void } | { readonly ok: false; readonly error: unknown };

interface Read {
  readonly id: number;
  /** Settles, never rejects, once the read ended and its outcome was recorded. */
  readonly ended: Promise<Outcome>;
  /** Deadlines it missed (polls that stopped waiting for it). */
  missed: number;
}

interface SourceReads {
  /** The read polls wait for, from the poll that started it until it ends or is given up on. */
  waited: Read | undefined;
  /** A read given up on and still running: at most one, so a stuck source holds two connections at most. */
  abandoned: Read | undefined;
  /** Id of the newest read that ended: an older read ending after it is stale. */
  newest: number;
  /** What the newest read that ended failed with; undefined once one answered. */
  lastFailure: { readonly error: unknown } | undefined;
}

/** Reads of named sources, each bounded by a deadline (see {@link createDeadlineReads}). */
export interface DeadlineReads<S extends string> {
  /** The read of `source` polls wait for (or `read`, started now), within the deadline: rejects with its error or a `timeout`. */
  within(source: S, read: TimedRead): Promise<void>;
  /** Drops the deadlines of reads in flight (closing: their timers must not keep the process up). */
  stop(): void;
}

/**
 * Bounds each read of a source by `readTimeoutMs`. A read that outlives its deadline fails that
 * poll with a `timeout` and goes on: the next poll waits for it again instead of starting another,
 * until it has missed {@link GIVE_UP_AFTER_DEADLINES} deadlines; then it is given up on (the next
 * poll starts a new read) unless a read given up on earlier still runs. A read that ends late is
 * not lost: its answer is shown at once (unless a newer read's was), and its error, like that of
 * any read that failed last, is the `cause` of the source's next timeouts, so the client's own
 * error (a broker's connection timeout, seconds after the deadline) reaches the operator.
 */
export function createDeadlineReads<S extends string>(options: { readonly clock: Clock; readonly readTimeoutMs: number; readonly what: Readonly<Record<S, string>> }): DeadlineReads<S> {
  const { clock, readTimeoutMs } = options;
  const sources = new Map<S, SourceReads>();
  /** The deadlines of the reads waited for now. */
  const deadlines = new Set<() => void>();
  let ids = 0;

  function begin(reads: SourceReads, read: TimedRead): Read {
    const id = ++ids;
    const ended = (async () => read())().then(
      (show): Outcome => ({ ok: true, show }),
      (error: unknown): Outcome => ({ ok: false, error }),
    );
    const started: Read = {
      id,
      missed: 0,
      ended: ended.then((outcome) => {
        if (reads.waited === started) reads.waited = undefined;
        if (reads.abandoned === started) reads.abandoned = undefined;
        if (id > reads.newest) {
          reads.newest = id;
          if (outcome.ok) outcome.show();
          reads.lastFailure = outcome.ok ? undefined : { error: outcome.error };
        }
        return outcome;
      }),
    };
    return started;
  }

  /** `read`'s outcome, or undefined at the deadline. */
  function untilDeadline(read: Read): Promise<Outcome | undefined> {
    return new Promise((resolve) => {
      const clear = clock.setTimer(readTimeoutMs, () => {
        deadlines.delete(cancel);
        resolve(undefined);
      });
      const cancel = () => {
        deadlines.delete(cancel);
        clear();
      };
      deadlines.add(cancel);
      void read.ended.then((outcome) => {
        cancel();
        resolve(outcome);
      });
    });
  }

  return {
    async within(source, read) {
      let reads = sources.get(source);
      if (!reads) sources.set(source, (reads = { waited: undefined, abandoned: undefined, newest: 0, lastFailure: undefined }));
      const current = reads.waited ?? (reads.waited = begin(reads, read));
      const outcome = await untilDeadline(current);
      if (outcome?.ok) return;
      if (outcome) throw outcome.error;
      current.missed++;
      const givenUp = current.missed >= GIVE_UP_AFTER_DEADLINES && reads.waited === current && reads.abandoned === undefined;
      if (givenUp) [reads.abandoned, reads.waited] = [current, undefined];
      // the message stays the same from one poll to the next (the logs compare errors); what
      // changes goes in the details, and what the last read that ended failed with in the cause
      const last = reads.lastFailure;
      throw new HeraldError(
        CoreErrors.timeout,
        `metrics: reading ${options.what[source]} took longer than ${readTimeoutMs} ms (readTimeoutMs)${last ? '; the last read of it that ended failed (the cause)' : ''}`,
        { ...(last ? { cause: last.error } : {}), details: { source, deadlinesMissed: current.missed, nextPoll: givenUp || reads.waited !== current ? 'starts a new read' : 'waits for this read again' } },
      );
    },
    stop() {
      for (const cancel of [...deadlines]) cancel();
    },
  };
}
