import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineEvent, type App, type InstrumentationEvent } from '@herald/core';
import { Type } from '@sinclair/typebox';
import { createRequester, defineRequest, replier, type Requester } from '../src/index.js';

export const ProfileRequested = defineEvent({
  type: 'ProfileRequested',
  topic: 'users.profile',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), from: Type.String() }),
});
export const ProfileReturned = defineEvent({
  type: 'ProfileReturned',
  topic: 'users.profile.response',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Type.String(), name: Type.String(), from: Type.String() }),
});
export const GetProfile = defineRequest({ request: ProfileRequested, reply: ProfileReturned });

/** An event of the requesting service's own consumer group, whose membership changes cause rebalances. */
export const Noted = defineEvent({ type: 'Noted', topic: 'notes', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });

/** The apps a run needs: one per service instance, on the engine under test. */
export interface ScenarioEngine<Tx> {
  /** A replier app (service `users`) or a requester app (service `notifier`). Not started. */
  open(service: 'users' | 'notifier'): Promise<App<Tx>>;
  /** Bound of one wait for something to arrive, ms. */
  readonly waitMs: number;
  /** Runs once after every app closed. */
  cleanup?(): Promise<void>;
}

export interface Gate {
  readonly wait: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

interface RequesterInstance<Tx> {
  readonly app: App<Tx>;
  readonly requester: Requester;
  readonly facts: InstrumentationEvent[];
}

/**
 * Request/reply between a `users` service (replier, one instance) and a `notifier` service
 * (requesters, two or three instances that also share a consumer group of their own), on one
 * engine. Each request carries a unique user id and the asking instance's tag; the replier echoes
 * both, so a reply delivered to the wrong caller would be seen.
 */
export function describeRequestReply<Tx>(name: string, engine: () => ScenarioEngine<Tx>): void {
  describe(`request/reply on ${name}`, () => {
    let env: ScenarioEngine<Tx>;
    let users: App<Tx>;
    const held = new Map<string, Gate>();
    const attempts = new Map<string, number>();
    /** User ids of the requests that reached the replier (before any hold). */
    const arrived = new Set<string>();
    const instances: RequesterInstance<Tx>[] = [];

    async function startRequester(tag: string, instanceId?: string): Promise<RequesterInstance<Tx>> {
      const app = await env.open('notifier');
      app.on(Noted, { group: 'notifier' }, async () => undefined);
      const requester = createRequester({ app, requests: [GetProfile], name: `notifier-${tag}`, ...(instanceId ? { instanceId } : {}) });
      app.use(requester);
      const facts: InstrumentationEvent[] = [];
      app.instrumentation.on((fact) => facts.push(fact));
      await app.start();
      await app.ready();
      const instance = { app, requester, facts };
      instances.push(instance);
      return instance;
    }

    const ask = (instance: RequesterInstance<Tx>, userId: string, timeoutMs = env.waitMs) =>
      instance.requester.request(GetProfile, { userId, from: instance.requester.instanceId }, { timeoutMs });

    beforeAll(async () => {
      env = engine();
      users = await env.open('users');
      users.on(
        ProfileRequested,
        {
          group: 'users',
          retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
          // a slow replier, held before its transaction opens (a held transaction would hold the store's write lock)
          middleware: [(next) => async function holdRequest(event, ctx) {
            const { userId } = event.data as { userId: string };
            arrived.add(userId);
            await held.get(userId)?.wait;
            await next(event, ctx);
          }],
        },
        replier(GetProfile, async (request) => {
          const { userId } = request.data;
          const attempt = (attempts.get(userId) ?? 0) + 1;
          attempts.set(userId, attempt);
          // the reply is published in the handler's transaction: a failed attempt publishes nothing
          if (userId.startsWith('flaky') && attempt === 1) throw new Error('transient failure after answering');
          return { userId, name: `User ${userId}`, from: request.data.from };
        }),
      );
      await users.start();
      await users.ready();
    });
    afterAll(async () => {
      for (const gateOf of held.values()) gateOf.open();
      await Promise.all(instances.map((i) => i.app.close()));
      await users?.close();
      await env?.cleanup?.();
    });

    it('routes each reply to the instance that asked, with two instances asking at once', async () => {
      const [a, b] = [await startRequester('a'), await startRequester('b')];
      const askAll = (instance: RequesterInstance<Tx>) => Promise.all(Array.from({ length: 8 }, (_, i) => ask(instance, `${instance.requester.instanceId}-u${i}`)));
      const [fromA, fromB, flaky] = await Promise.all([askAll(a), askAll(b), ask(a, 'flaky-1')]);
      for (const [instance, replies] of [[a, fromA], [b, fromB]] as const) {
        expect(replies.map((r) => r.data)).toEqual(
          Array.from({ length: 8 }, (_, i) => ({ userId: `${instance.requester.instanceId}-u${i}`, name: `User ${instance.requester.instanceId}-u${i}`, from: instance.requester.instanceId })),
        );
        expect(replies.every((r) => r.type === 'ProfileReturned')).toBe(true);
      }
      // the failed first attempt of the flaky request published no reply: one answer, no duplicate
      expect(flaky.data).toEqual({ userId: 'flaky-1', name: 'User flaky-1', from: a.requester.instanceId });
      expect(attempts.get('flaky-1')).toBe(2);
      // the reply is caused by the request and shares its correlation id (the request's id by default)
      expect(flaky.causationId).toBe(flaky.headers['herald-request-id']);
      expect(flaky.correlationId).toBe(flaky.causationId);
      expect([...a.facts, ...b.facts].filter((f) => f.kind === 'reply-dropped')).toEqual([]);
      expect(a.requester.pending + b.requester.pending).toBe(0);
    });

    it('keeps routing replies while the service\'s group rebalances (an instance joins, another leaves)', async () => {
      const [a, b] = instances;
      const seen = (instance: RequesterInstance<Tx>) => instance.facts.length;
      const [markA, markB] = [seen(a!), seen(b!)];
      const c = await startRequester('c'); // joining rebalances the `notifier` group
      const movedSince = (instance: RequesterInstance<Tx>, mark: number) =>
        instance.facts.slice(mark).some((f) => (f.kind === 'revoked' || f.kind === 'assigned') && f.group === 'notifier');
      // c holding partitions of the group a and b shared is itself the rebalance; a's and b's own
      // notice of it can come later (on Kafka a member that crashed in the rebalance rejoins after
      // kafkajs's back-off), and the requests below must be routed either way
      await until(() => movedSince(a!, markA) || movedSince(b!, markB) || movedSince(c, 0), env.waitMs, 'the notifier group to rebalance as c joins');
      const inFlight = [ask(a!, 'r-a1'), ask(b!, 'r-b1'), ask(c, 'r-c1')];
      const results = await Promise.all(inFlight);
      expect(results.map((r) => r.data.from)).toEqual([a!.requester.instanceId, b!.requester.instanceId, c.requester.instanceId]);
      const [markA2, markC] = [seen(a!), seen(c)];
      const leaving = b!.app.close(); // leaving rebalances it again
      const during = await Promise.all([ask(a!, 'r-a2'), ask(c, 'r-c2')]);
      await leaving;
      expect(during.map((r) => [r.data.userId, r.data.from])).toEqual([
        ['r-a2', a!.requester.instanceId],
        ['r-c2', c.requester.instanceId],
      ]);
      await until(() => movedSince(a!, markA2) || movedSince(c, markC), env.waitMs, 'the notifier group to rebalance as b leaves');
      const after = await Promise.all([ask(a!, 'r-a3'), ask(c, 'r-c3')]);
      expect(after.map((r) => r.data.from)).toEqual([a!.requester.instanceId, c.requester.instanceId]);
    });

    it('drops and counts a reply whose request timed out, and never hands it to another caller', async () => {
      const a = instances[0]!;
      held.set('slow', gate());
      held.set('waiting', gate());
      await expect(ask(a, 'slow', 300)).rejects.toMatchObject({ code: 'request-timeout', retriable: true });
      const waiting = ask(a, 'waiting');
      held.get('slow')!.open();
      await until(() => a.facts.some((f) => f.kind === 'reply-dropped'), env.waitMs, 'the late reply to be dropped');
      expect(a.facts.filter((f) => f.kind === 'reply-dropped')).toEqual([
        { kind: 'reply-dropped', requester: a.requester.instanceId, topic: 'users.profile.response', replyType: 'ProfileReturned', reason: 'late' },
      ]);
      // the other waiting request is still waiting: the late reply was not given to it
      expect(a.requester.pending).toBe(1);
      held.get('waiting')!.open();
      expect((await waiting).data).toEqual({ userId: 'waiting', name: 'User waiting', from: a.requester.instanceId });
      // the other instance saw the late reply too, and ignored it as not its own
      expect(instances[2]!.facts.filter((f) => f.kind === 'reply-dropped')).toEqual([]);
    });

    it('a restarted instance with the same id drops the replies meant for its previous life as unknown', async () => {
      held.set('before-restart', gate());
      const first = await startRequester('stable', 'notifier-stable');
      const lost = ask(first, 'before-restart').catch((error: unknown) => error);
      await until(() => arrived.has('before-restart'), env.waitMs, 'the request to reach the replier');
      await first.app.close();
      expect(await lost).toMatchObject({ code: 'requester-closed' });
      const second = await startRequester('stable', 'notifier-stable');
      held.get('before-restart')!.open();
      await until(() => second.facts.some((f) => f.kind === 'reply-dropped'), env.waitMs, 'the old reply to be dropped');
      expect(second.facts.filter((f) => f.kind === 'reply-dropped').map((f) => (f as { reason: string }).reason)).toEqual(['unknown']);
      expect((await ask(second, 'after-restart')).data).toEqual({ userId: 'after-restart', name: 'User after-restart', from: 'notifier-stable' });
    });

    it('dead-letters a request that carries no reply headers (nobody to answer)', async () => {
      const sent = await users.publish(ProfileRequested, { userId: 'orphan', from: 'nobody' });
      await until(async () => (await users.deadLetters()).some((d) => d.eventId === sent.id), env.waitMs, 'the orphan request to be dead-lettered');
      const [letter] = (await users.deadLetters()).filter((d) => d.eventId === sent.id);
      expect(letter).toMatchObject({ reason: 'request-headers-missing' });
    });
  });
}

/** Polls `condition` until it holds (integration tests only). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
