import { HeraldError, decodeEnvelope, membershipFacts, readEvent } from '@herald/core';
import type { App, Component, Delivery, Envelope, EventDefinition, Subscription } from '@herald/core';
import { positionCommitter, readingSink } from './commits.js';
import { ReplyErrors } from './errors.js';
import { unlessStopped } from './stopping.js';
import { checkExpect, waiterSettings } from './waiterOptions.js';

/** Options of {@link createEventWaiter}. */
export interface EventWaiterOptions {
  /** The app whose broker carries the awaited events; its instrumentation gets the wait group's facts. */
  readonly app: Pick<App<unknown>, 'broker' | 'clock' | 'logger' | 'instrumentation'>;
  /**
   * The events that can end a wait: their topics are read. A wait gets an event as its definition
   * reads it (one of an earlier version upcast); one it cannot read (a newer version, invalid data)
   * ends no wait and is logged. One definition per type.
   */
  readonly events: readonly EventDefinition[];
  /** This instance's id, unique among running instances; it names its group (`herald.wait.<id>`). Default `waiter-<UUIDv7>`. */
  readonly instanceId?: string;
}

/** Options of one wait. */
export interface ExpectOptions {
  /** How long to wait, from the call: more than 0 and at most 2 147 483 647 (the longest timer). */
  readonly timeoutMs: number;
  /**
   * Which event with the correlation id ends the wait; default the first of the waiter's types.
   * When it throws, the error is logged (with the correlation id) and the wait ends at once with
   * undefined, as if it had timed out; the event goes on to the instance's other waits.
   */
  readonly until?: (event: Envelope) => boolean;
}

/** One registered wait. */
export interface Expectation {
  /** The event that ended the wait, or undefined when the timeout passed first (or it was cancelled, the waiter closed, or `until` threw). Never rejects. */
  readonly result: Promise<Envelope | undefined>;
  /** Stops waiting: `result` resolves with undefined. */
  cancel(): void;
}

/** Waits for events by correlation id; a component of its app (`app.use`). */
export interface EventWaiter extends Component {
  readonly instanceId: string;
  /**
   * Registers a wait for an event of the waiter's types with `correlationId`. Register before
   * whatever causes the event is published (or read the state it would report after registering):
   * an event that arrived before the wait is not seen. Register after `app.ready()`: the group
   * starts at the end of its topics as of its first assignment, so an event published before it
   * is not read, even by a wait registered earlier.
   */
  expect(correlationId: string, options: ExpectOptions): Expectation;
  /** Waits registered now. */
  readonly pending: number;
}

interface Waiting {
  readonly until: ((event: Envelope) => boolean) | undefined;
  done(event: Envelope | undefined): void;
}

/**
 * Waits for the event that ends a piece of work, by correlation id: an HTTP route that answers
 * when the order's final status arrives, on whichever gateway replica holds the request. Each
 * instance reads the events' topics in a consumer group of its own (`herald.wait.<instanceId>`,
 * from the end), so it sees every event and ends its own waits; no rebalance of another group can
 * take them away. Events nobody waits for are ignored. The group commits how far it read, so a
 * restart with the same `instanceId` resumes there instead of re-reading from the group's first start.
 * The group reports `assigned`, `revoked` and `partition-held` facts like the app's consumer groups
 * (a held partition ends no wait: see core's `membershipFacts`). An app closing while the start
 * still subscribes stops it at once with `closed`; the group is left once (if) subscribe returns.
 * Options are checked at once: a bad or unknown
 * one (the closest known one suggested) throws `invalid-options` naming it, as do `expect()`'s.
 */
export function createEventWaiter(options: EventWaiterOptions): EventWaiter {
  const { instanceId, byType } = waiterSettings(options);
  const { app } = options;
  const topics = [...new Set([...byType.values()].map((d) => d.topic))];
  const waiting = new Map<string, Set<Waiting>>();
  let count = 0;
  let subscription: Subscription | undefined;
  const group = `herald.wait.${instanceId}`;
  const positions = positionCommitter({ clock: app.clock, logger: app.logger, group });
  let state: 'new' | 'running' | 'closed' = 'new';
  /** The start in progress (or done): close waits for it, so a subscription it makes is closed too. */
  let starting: Promise<void> | undefined;
  let markReady!: () => void;
  let failReady!: (error: unknown) => void;
  const isReady = new Promise<void>((resolve, reject) => ((markReady = resolve), (failReady = reject)));
  isReady.catch(() => undefined);

  const receive = (delivery: Delivery) => {
    if (count === 0) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(delivery.value, delivery.headers);
    } catch {
      return; // not an event anyone here can wait for; its consumers dead-letter it
    }
    const definition = byType.get(envelope.type);
    if (!definition) return;
    const set = waiting.get(envelope.correlationId);
    if (!set) return;
    try {
      envelope = readEvent(definition, envelope);
    } catch (error) {
      // its consumers dead-letter it; a wait would get data its route cannot read
      app.logger.warn('event waiter: an awaited event cannot be read as its definition; it ends no wait', { waiter: instanceId, correlationId: envelope.correlationId, eventId: envelope.id, eventType: envelope.type, version: envelope.version, error });
      return;
    }
    for (const wait of [...set]) {
      let ends: boolean;
      try {
        ends = !wait.until || wait.until(envelope);
      } catch (error) {
        // failing the batch would have the broker redeliver it forever, holding every later event
        // of the partition (and so every other wait on it); the fault is this wait's alone
        app.logger.error('event waiter: until threw; the wait ends without an event', { waiter: instanceId, correlationId: envelope.correlationId, eventId: envelope.id, eventType: envelope.type, error });
        wait.done(undefined);
        continue;
      }
      if (ends) wait.done(envelope);
    }
  };

  const sink = readingSink({ receive, positions, facts: membershipFacts(app.instrumentation, group), markReady });

  const subscribe = async () => {
    try {
      subscription = await app.broker.subscribe({ group, topics, start: 'latest' }, sink);
      positions.attach(subscription);
    } catch (error) {
      failReady(error);
      throw error;
    }
  };

  const waiter: EventWaiter = {
    name: `event-waiter:${instanceId}`,
    instanceId,
    get pending() {
      return count;
    },
    async start(signal) {
      if (state !== 'new') return;
      state = 'running';
      starting = subscribe();
      try {
        await unlessStopped(starting, signal, `event waiter ${instanceId}`);
      } catch (error) {
        // the app closes only what started: this closes itself, leaving the group once (if) subscribe returns
        waiter.close({ deadlineMs: 0 }).catch((closeError: unknown) => app.logger.error('event waiter: failed to leave its wait group after a stopped start', { waiter: instanceId, error: closeError }));
        throw error;
      }
    },
    ready: () => isReady,
    async close() {
      if (state === 'closed') return;
      state = 'closed';
      failReady(new HeraldError(ReplyErrors.waiterClosed, `event waiter ${instanceId} closed before it was ready`, { retriable: true }));
      for (const set of [...waiting.values()]) for (const wait of [...set]) wait.done(undefined);
      // a close during start: the group's membership comes once subscribe returns, and is left here
      await starting?.catch(() => undefined);
      try {
        await subscription?.close();
      } finally {
        positions.close();
      }
    },
    expect(correlationId, expectOptions) {
      checkExpect(correlationId, expectOptions);
      const { timeoutMs } = expectOptions;
      if (state !== 'running') throw new HeraldError(state === 'new' ? ReplyErrors.waiterNotStarted : ReplyErrors.waiterClosed, `event waiter ${instanceId} is ${state === 'new' ? 'not started: app.use(waiter), then app.start()' : 'closed'}`);
      let set = waiting.get(correlationId);
      if (!set) waiting.set(correlationId, (set = new Set()));
      const registered = set;
      let finish!: (event: Envelope | undefined) => void;
      const result = new Promise<Envelope | undefined>((resolve) => (finish = resolve));
      let cancelTimer: () => void = () => undefined;
      const wait: Waiting = {
        until: expectOptions.until,
        done(event) {
          if (!registered.delete(wait)) return;
          count--;
          if (registered.size === 0) waiting.delete(correlationId);
          cancelTimer();
          finish(event);
        },
      };
      registered.add(wait);
      count++;
      cancelTimer = app.clock.setTimer(timeoutMs, () => wait.done(undefined));
      return { result, cancel: () => wait.done(undefined) };
    },
  };
  return waiter;
}
