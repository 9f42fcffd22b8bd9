import { CoreErrors, decodeEnvelope, HeraldError, toError, unstorableTextReason } from '@herald/core';
import type { App, Component, DeadLetter, Envelope, InstrumentationEvent, SqlTx } from '@herald/core';

/** What a rule did with a letter: `settled` (its request has its outcome, or needs none), or `waiting` for something to happen first. */
export type Settlement = 'settled' | 'waiting';

/**
 * The final outcome of the requests whose events of one type a consumer group dead-letters. A
 * dead letter stops a flow: the service never answers the event, so a request the gateway
 * accepted would never end (PENDING for ever) and money taken for it would stay taken.
 * `settle` gives the letter's request its outcome — a final status its client sees, a refund —
 * in one transaction with whatever it publishes, and must be idempotent: after a restart, or in
 * another replica, the same letter is settled again. It says `waiting` when the outcome cannot be
 * decided yet; the letter is looked at again later.
 */
export interface DeadLetterRule {
  readonly group: string;
  readonly eventType: string;
  settle(letter: DeadLetter): Promise<Settlement>;
}

/** Options of {@link deadLetterOutcomes}. */
export interface DeadLetterOutcomesOptions {
  /** The component's name, unique in the app. */
  readonly name: string;
  readonly rules: readonly DeadLetterRule[];
  /** Facts of this process after which letters left `waiting` are looked at again (what they wait for may have happened). */
  readonly wakeOn?: (fact: InstrumentationEvent) => boolean;
  /** How long letters left `waiting` wait at most before they are looked at again (another process may end what they wait for). Default 5 000. */
  readonly recheckMs?: number;
}

/** First and longest pause before a pass that failed (the store unreachable) runs again. */
const RETRY_MS = { first: 1_000, max: 30_000 } as const;
const RECHECK_MS = 5_000;

/**
 * Settles the dead letters of the rules' groups and event types, `dead` or `discarded` by an
 * operator (the letter stays for the operator either way; what a redrive of it does is up to the
 * group's handler, which must not undo the outcome: see each rule). Runs a pass when
 * it starts (letters left by an earlier run, or by another process), after each letter one of
 * the groups records in this process (the `dead-lettered` fact), and, while letters are left
 * waiting, after each `wakeOn` fact and every `recheckMs`. One pass at a time; a pass that fails
 * runs again after a pause, until it succeeds or the component closes. A letter a rule settled is
 * not looked at again in this run.
 */
export function deadLetterOutcomes(app: App<SqlTx>, options: DeadLetterOutcomesOptions): Component {
  const groups = [...new Set(options.rules.map((r) => r.group))];
  const recheckMs = options.recheckMs ?? RECHECK_MS;
  if (!(Number.isFinite(recheckMs) && recheckMs > 0)) throw new HeraldError(CoreErrors.invalidOptions, `${options.name}: recheckMs must be a positive number of ms, got ${recheckMs}`);
  const settled = new Set<string>();
  const stop = new AbortController();
  let waiting = 0;
  let wanted = false;
  let recheck: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  let unsubscribe: (() => void) | undefined;

  async function pass(): Promise<void> {
    const store = app.stores.deadLetters;
    const failures: Error[] = [];
    let left = 0;
    for (const group of groups) {
      const letters = [...(await store.list({ group, status: 'dead' })), ...(await store.list({ group, status: 'discarded' }))];
      for (const letter of letters) {
        const rule = options.rules.find((r) => r.group === letter.group && r.eventType === letter.eventType);
        if (!rule || settled.has(letter.id)) continue;
        try {
          if ((await rule.settle(letter)) === 'settled') settled.add(letter.id);
          else left++;
        } catch (error) {
          failures.push(toError(error));
        }
      }
    }
    waiting = left;
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} dead letter(s) could not be settled`);
  }

  async function drain(): Promise<void> {
    let pause: number = RETRY_MS.first;
    while (wanted && !stop.signal.aborted) {
      wanted = false;
      try {
        await pass();
        pause = RETRY_MS.first;
      } catch (error) {
        wanted = true;
        app.logger.warn(`${options.name}: a pass failed; it runs again`, { error, pauseMs: pause });
        await app.clock.sleep(pause, stop.signal).catch(() => undefined);
        pause = Math.min(pause * 2, RETRY_MS.max);
      }
    }
    if (waiting > 0) scheduleRecheck();
  }

  // letters left waiting may wait on another process (its saga ended the order): look again later
  function scheduleRecheck(): void {
    recheck ??= app.clock.sleep(recheckMs, stop.signal).then(
      () => {
        recheck = undefined;
        request();
      },
      () => undefined, // closing
    );
  }

  // one drain at a time; a request that comes while one ends (after its last look at `wanted`) starts the next
  const request = (): void => {
    wanted = true;
    running ??= drain().finally(() => {
      running = undefined;
      if (wanted && !stop.signal.aborted) request();
    });
  };

  return {
    name: options.name,
    async start(signal) {
      signal.addEventListener('abort', () => stop.abort(), { once: true });
      unsubscribe = app.instrumentation.on((fact) => {
        if (fact.kind === 'dead-lettered' && fact.status === 'dead' && groups.includes(fact.group)) request();
        else if (waiting > 0 && options.wakeOn?.(fact)) request();
      });
      request();
    },
    async close() {
      unsubscribe?.();
      stop.abort();
      await running;
      await recheck;
    },
  };
}

/** A letter's event as a rule reads it: the envelope, and its data as a record (leniently: the letter may be poison). */
export interface LetterEvent {
  readonly event: Envelope;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The letter's envelope and data, or why it cannot be read at all. */
export function readLetter(letter: DeadLetter): LetterEvent | string {
  let event: Envelope;
  try {
    event = decodeEnvelope(letter.envelope, letter.headers);
  } catch (error) {
    return `its envelope cannot be read: ${toError(error).message}`;
  }
  const data = (typeof event.data === 'object' && event.data !== null ? event.data : {}) as Record<string, unknown>;
  return { event, data };
}

/** `value` when it is text a store keeps (not empty), else undefined. */
export const usableText = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 && unstorableTextReason(value) === undefined ? value : undefined);
