import { CoreErrors, HeraldError, decodeEnvelope, isHeraldError, membershipFacts, readEvent, uuidv7 } from '@herald/core';
import type { App, HandlerService, Delivery, Envelope, Subscription } from '@herald/core';
import type { Static, TSchema } from '@sinclair/typebox';
import { checkRequestDefinition } from './checks.js';
import { positionCommitter, readingSink } from './commits.js';
import { pendingRequests } from './pendingRequests.js';
import { REPLY_HEADERS, type RequestDefinition } from './definition.js';
import { ReplyErrors } from './errors.js';
import { checkRequestOptions, requesterSettings } from './requesterOptions.js';
import { unlessStopped } from './stopping.js';
import { checkTimeoutMs } from './timeouts.js';

/** Options of {@link createRequester}. */
export interface RequesterOptions {
  /** The app whose outbox sends the requests and whose broker carries the replies. */
  readonly app: Pick<App<unknown>, 'publish' | 'broker' | 'clock' | 'logger' | 'instrumentation'>;
  /** Every request this requester sends: it reads their reply topics. */
  readonly requests: readonly RequestDefinition[];
  /**
   * This instance's id, unique among running instances; it names the instance's reply group
   * (`herald.reply.<id>`). Default `<name>-<UUIDv7>`, new at each start of the process.
   */
  readonly instanceId?: string;
  /** Prefix of the default instance id. Default `requester`. */
  readonly name?: string;
  /** Timeout of a request that names none, at most 2 147 483 647 (the longest timer). Default 30 000. */
  readonly defaultTimeoutMs?: number;
  /** How many answered or abandoned request ids are remembered to tell late and duplicate replies apart. Default 10 000. */
  readonly rememberedRequests?: number;
}

/** Options of one request. */
export interface RequestOptions {
  /** How long to wait for the reply, from the call; at most 2 147 483 647 (the longest timer). Default the requester's `defaultTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Correlation id of the request (and so of its reply). Default the request's id. */
  readonly correlationId?: string;
  /** Extra envelope headers of the request. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The event being handled when a handler asks: the request takes its correlation id (unless
   * `correlationId` is given), its id as causation id and its trace context, so the request, its
   * handling and the reply stay in the handled event's trace.
   */
  readonly cause?: Envelope;
  /** Abandons the wait (the reply, if it comes, is dropped as late). */
  readonly signal?: AbortSignal;
}

/**
 * Sends requests and waits for their replies; a component of its app (`app.use`). Handlers call
 * it, so the app starts it before its consumer groups and closes it after them.
 */
export interface Requester extends HandlerService {
  /** This instance's id, carried by its requests in `herald-reply-to`. */
  readonly instanceId: string;
  /**
   * Publishes `data` as a request (through the outbox, in its own transaction), with its deadline
   * (the call's time plus `timeoutMs`) in `herald-request-deadline`, and resolves with
   * the reply envelope whose `herald-request-id` is this request's id. Rejects with
   * `request-timeout` after `timeoutMs`, `requester-closed` when the app closes first (its
   * `details.sent` tells whether the request may have been sent), the signal's reason when
   * aborted, or `reply-invalid` when the reply cannot be used (its data does not match the reply's
   * schema, its type is another; `details.issues` lists the fields). Rejects at once with
   * `invalid-options` naming the argument when `definition` is not from `defineRequest` or is not
   * among the requester's `requests`, or an option is unknown or of the wrong kind (nothing is
   * sent then). A request that stops waiting
   * (timeout, abort, close) before the requester is ready is never sent. Do not call it inside a
   * transaction: the request is only sent once its own transaction commits.
   */
  request<Req extends TSchema, Rep extends TSchema>(
    definition: RequestDefinition<Req, Rep>,
    data: Static<Req>,
    options?: RequestOptions,
  ): Promise<Envelope<Static<Rep>>>;
  /** Requests waiting for their reply now. */
  readonly pending: number;
}

interface Waiting {
  readonly definition: RequestDefinition;
  /** Handed to `app.publish`: from then on it may be sent (the outbox commits it, the relay publishes it) even if the wait ends. */
  sent: boolean;
  resolve(reply: Envelope): void;
  reject(error: unknown): void;
}

/**
 * Request/reply over topics. Each requester instance reads the reply topics in a consumer group of
 * its own (`herald.reply.<instanceId>`, starting at the end), so it sees every reply and keeps
 * only those whose `herald-reply-to` is its id: a reply always reaches the instance that asked,
 * however many instances run and however the service's other groups rebalance — no partition of
 * the reply topic ever moves to another instance (the failure of transports that read replies in
 * a shared group). The price is that every instance reads every reply of its topics.
 *
 * A reply for a request that timed out, was cancelled or already answered is dropped and emitted
 * as a `reply-dropped` fact, never handed to another caller (requests are matched by id, not by
 * arrival). `close()` rejects the waiting requests with `requester-closed` and leaves the group;
 * an app closing while the start still subscribes stops it at once with `closed`, and the group is
 * left once (if) subscribe returns.
 * The group commits how far it read, so a restart with the same `instanceId` resumes after the
 * replies its previous life saw instead of re-reading the topics from the group's first start.
 * The group reports `assigned`, `revoked` and `partition-held` facts like the app's consumer
 * groups (a held partition answers no request: see core's `membershipFacts`). Options are checked at once: a
 * bad or unknown one (the closest known one suggested) throws `invalid-options` naming it.
 *
 * @example
 * const requester = createRequester({ app, requests: [GetProfile] });
 * app.use(requester);
 * await app.start();
 * const reply = await requester.request(GetProfile, { userId: 'u-1' }, { timeoutMs: 5_000 });
 */
export function createRequester(options: RequesterOptions): Requester {
  const settings = requesterSettings(options);
  const { app } = options;
  const { instanceId } = settings;
  const pending = pendingRequests<Waiting>(settings.rememberedRequests);
  const { waiting, settle } = pending;
  const replyTopics = new Map(options.requests.map((d) => [d.reply.topic, d]));
  let subscription: Subscription | undefined;
  const group = `herald.reply.${instanceId}`;
  const positions = positionCommitter({ clock: app.clock, logger: app.logger, group });
  let state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  /** The start in progress (or done): close waits for it, so a subscription it makes is closed too. */
  let starting: Promise<void> | undefined;
  let markReady!: () => void;
  let failReady!: (error: unknown) => void;
  const isReady = new Promise<void>((resolve, reject) => ((markReady = resolve), (failReady = reject)));
  isReady.catch(() => undefined);

  const drop = (delivery: Delivery, reason: 'late' | 'duplicate' | 'unknown', replyType: string) => {
    app.logger.debug('reply: dropped a reply nobody waits for', { requester: instanceId, requestId: delivery.headers[REPLY_HEADERS.requestId], reason });
    app.instrumentation.emit({ kind: 'reply-dropped', requester: instanceId, topic: delivery.topic, replyType, reason });
  };

  const receive = (delivery: Delivery) => {
    if (delivery.headers[REPLY_HEADERS.replyTo] !== instanceId) return; // another instance's reply
    const id = delivery.headers[REPLY_HEADERS.requestId] ?? '';
    const entry = waiting.get(id);
    if (!entry) {
      const before = pending.outcomeOf(id);
      drop(delivery, before === 'late' ? 'late' : before === 'answered' ? 'duplicate' : 'unknown', replyTopics.get(delivery.topic)?.reply.type ?? 'unknown');
      return;
    }
    settle(id, 'answered');
    try {
      const envelope = decodeEnvelope(delivery.value, delivery.headers);
      if (envelope.type !== entry.definition.reply.type) {
        throw new HeraldError(CoreErrors.unknownEventType, `reply to ${entry.definition.request.type} is a ${envelope.type}, not a ${entry.definition.reply.type}`);
      }
      // a reply of an earlier version the definition reads is upcast; another version is refused
      entry.resolve(readEvent(entry.definition.reply, envelope));
    } catch (error) {
      entry.reject(invalidReply(id, entry.definition, error));
    }
  };

  const sink = readingSink({ receive, positions, facts: membershipFacts(app.instrumentation, group), markReady });

  const subscribe = async () => {
    try {
      subscription = await app.broker.subscribe({ group, topics: [...replyTopics.keys()], start: 'latest' }, sink);
      positions.attach(subscription);
      // closed meanwhile: close leaves the group once this returns; the requester stays closed
      if (state === 'starting') state = 'running';
    } catch (error) {
      failReady(error);
      throw error;
    }
  };

  const closedError = (id: string, entry: Waiting) =>
    new HeraldError(
      ReplyErrors.requesterClosed,
      entry.sent
        ? `requester ${instanceId} closed while request ${id} waited for its reply; the request may have been sent and processed`
        : `requester ${instanceId} closed before request ${id} was sent; it was not sent`,
      { retriable: true, details: { requestId: id, sent: entry.sent } },
    );

  const requester: Requester = {
    name: `requester:${instanceId}`,
    servesHandlers: true,
    instanceId,
    get pending() {
      return waiting.size;
    },
    async start(signal) {
      if (state !== 'new') return;
      state = 'starting';
      starting = subscribe();
      try {
        await unlessStopped(starting, signal, `requester ${instanceId}`);
      } catch (error) {
        // the app closes only what started: this closes itself, leaving the group once (if) subscribe returns
        requester.close({ deadlineMs: 0 }).catch((closeError: unknown) => app.logger.error('requester: failed to leave its reply group after a stopped start', { requester: instanceId, error: closeError }));
        throw error;
      }
    },
    ready: () => isReady,
    async close() {
      if (state === 'closed') return;
      state = 'closed';
      failReady(new HeraldError(ReplyErrors.requesterClosed, `requester ${instanceId} closed before it was ready`, { retriable: true }));
      for (const [id, entry] of [...waiting]) {
        // an unsent request is not remembered as late: nothing can answer it
        if (entry.sent) settle(id, 'late');
        else waiting.delete(id);
        entry.reject(closedError(id, entry));
      }
      // a close during start: the group's membership comes once subscribe returns, and is left here
      await starting?.catch(() => undefined);
      try {
        await subscription?.close();
      } finally {
        positions.close();
      }
    },
    async request(definition, data, requestOptions = {}) {
      checkRequestDefinition(definition, 'requester.request: definition');
      checkRequestOptions(requestOptions);
      const timeoutMs = requestOptions.timeoutMs ?? settings.defaultTimeoutMs;
      checkTimeoutMs(timeoutMs, { name: 'timeoutMs', owner: 'requester.request: options', integer: true });
      if (!replyTopics.has(definition.reply.topic)) {
        throw new HeraldError(CoreErrors.invalidOptions, `requester.request: definition: requester ${instanceId} does not read ${definition.reply.topic}: add ${definition.request.type}'s definition to its \`requests\``);
      }
      if (state === 'new') throw new HeraldError(ReplyErrors.requesterNotStarted, `requester ${instanceId} is not started: app.use(requester), then app.start()`);
      if (state === 'closed') throw new HeraldError(ReplyErrors.requesterClosed, `requester ${instanceId} is closed`, { retriable: true, details: { sent: false } });
      requestOptions.signal?.throwIfAborted();
      const id = uuidv7(app.clock.now());
      // travels with the request: a replier that reads it later than this skips it (nobody waits any more)
      const deadline = String(app.clock.now() + timeoutMs);
      let entry!: Waiting;
      const reply = new Promise<Envelope>((resolve, reject) => waiting.set(id, (entry = { definition, sent: false, resolve, reject })));
      const cancelTimer = app.clock.setTimer(timeoutMs, () =>
        settle(id, 'late')?.reject(
          new HeraldError(ReplyErrors.requestTimeout, `no ${definition.reply.type} answered ${definition.request.type} ${id} within ${timeoutMs} ms`, {
            retriable: true,
            details: { requestId: id, timeoutMs },
          }),
        ),
      );
      const onAbort = () => settle(id, 'late')?.reject(requestOptions.signal!.reason);
      requestOptions.signal?.addEventListener('abort', onAbort, { once: true });
      // not awaited before the reply: the timeout bounds the whole wait, a slow commit included
      const send = async () => {
        await isReady;
        // timed out, aborted or closed while the requester got ready: its caller has moved on (and may retry), so sending it now could only make it run twice
        if (waiting.get(id) !== entry) return;
        entry.sent = true;
        await app.publish(definition.request, data, {
          id,
          ...(requestOptions.correlationId ? { correlationId: requestOptions.correlationId } : {}),
          ...(requestOptions.cause ? { cause: requestOptions.cause } : {}),
          headers: { ...requestOptions.headers, [REPLY_HEADERS.replyTo]: instanceId, [REPLY_HEADERS.requestId]: id, [REPLY_HEADERS.deadline]: deadline },
        });
      };
      send().catch((error: unknown) => {
        // not sent: nothing can answer it, so it is not remembered as late
        if (waiting.get(id) !== entry) return;
        waiting.delete(id);
        entry.reject(error);
      });
      try {
        return (await reply) as Envelope<Static<typeof definition.reply.schema>>;
      } finally {
        cancelTimer();
        requestOptions.signal?.removeEventListener('abort', onAbort);
      }
    },
  };
  return requester;
}

/**
 * A reply the requester cannot use, as its own code: the replier broke the contract, so the
 * caller's request (an HTTP client's, a handler's event) must not be blamed with the reply's
 * `schema-violation`. The message names no field; `details.issues` and the cause do.
 */
function invalidReply(requestId: string, definition: RequestDefinition, cause: unknown): HeraldError {
  const issues = isHeraldError(cause) ? cause.details?.['issues'] : undefined;
  return new HeraldError(ReplyErrors.replyInvalid, `the reply to ${definition.request.type} ${requestId} is not a valid ${definition.reply.type}`, {
    cause,
    details: { requestId, replyType: definition.reply.type, ...(Array.isArray(issues) ? { issues } : {}) },
  });
}
