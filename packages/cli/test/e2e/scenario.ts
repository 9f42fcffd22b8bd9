import { Type } from '@sinclair/typebox';
import { expect } from 'vitest';
import {
  createApp,
  defineEvent,
  jsonLogger,
  type App,
  type DeadLetter,
  type DeadLetterGroup,
  type DeadLetterPage,
  type Envelope,
  type GroupDescription,
  type InstrumentationEvent,
  type PartitionLag,
  type SqlTx,
  type TopicDescription,
} from '@herald/core';
import { engineFromEnv, type EngineFromEnvOptions } from '@herald/engine';
import { json, runCli, spawnCli } from './runCli.js';

// One operator session against a running app, the same on both engines: poison events become dead
// letters; the CLI (the real bin, in its own process) lists, groups, redrives (applied once, also
// when redriven twice) and discards them; tail shows new events; replay re-delivers from the
// chosen position; topics, lag and outbox read the system.

export const Step = defineEvent({
  type: 'Step',
  topic: 'cli-steps',
  key: (d) => d.key,
  schema: Type.Object({ key: Type.String(), seq: Type.Integer(), poison: Type.Optional(Type.Boolean()) }),
});

const QUIET: EngineFromEnvOptions = { logger: jsonLogger({ level: 'silent' }), kafka: { clientLogLevel: 'silent', closeTimeoutMs: 3_000 } };

type Handled = Extract<InstrumentationEvent, { kind: 'handled' }>;

/** The app under operation: it throws on poison events while `sick`, and records what it applied. */
class Service {
  sick = true;
  app: App<SqlTx> | undefined;
  handled: Handled[] = [];

  constructor(private readonly env: Readonly<Record<string, string>>) {}

  async start(): Promise<void> {
    const engine = await engineFromEnv(this.env, QUIET);
    await engine.stores.transaction((tx) => tx.execute('CREATE TABLE IF NOT EXISTS cli_applied (event_id TEXT NOT NULL, step TEXT NOT NULL, applied_at BIGINT NOT NULL)'));
    const app = createApp<SqlTx>({
      broker: engine.broker,
      stores: engine.stores,
      events: [Step],
      logger: jsonLogger({ level: 'silent' }),
      handlerDefaults: { retry: { maxAttempts: 1 }, deadLetter: 'park-key' },
      groups: { worker: { commitIntervalMs: 20 } },
      relay: { idleMs: 5 },
    });
    app.on(Step, { group: 'worker' }, async (event, ctx) => {
      if (event.data.poison && this.sick) throw new Error(`poisoned step ${event.data.key}/${event.data.seq}`);
      await ctx.tx.execute('INSERT INTO cli_applied (event_id, step, applied_at) VALUES ($1, $2, $3)', [event.id, `${event.data.key}/${event.data.seq}`, Date.now()]);
    });
    app.instrumentation.on((fact) => {
      if (fact.kind === 'handled') this.handled.push(fact);
    });
    this.handled = [];
    await app.start();
    await app.ready();
    this.app = app;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }

  publish(key: string, seq: number, poison = false): Promise<Envelope> {
    return this.app!.publish(Step, { key, seq, ...(poison ? { poison } : {}) });
  }

  /** Steps applied, in the order they were applied, with how many times each event was. */
  async applied(): Promise<{ steps: string[]; perEvent: Map<string, number> }> {
    const rows = await this.app!.stores.transaction((tx) => tx.query<{ event_id: string; step: string }>('SELECT event_id, step FROM cli_applied ORDER BY applied_at, step'));
    const perEvent = new Map<string, number>();
    for (const row of rows) perEvent.set(row.event_id, (perEvent.get(row.event_id) ?? 0) + 1);
    return { steps: rows.map((r) => r.step), perEvent };
  }
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface ScenarioOptions {
  /** The engine's variables, the same for the app and the CLI. */
  readonly env: Readonly<Record<string, string>>;
  /** Whether the brokers can list groups to a client that never ran them (the Kafka mock cannot). */
  readonly listsGroups: boolean;
}

export async function operatorSession({ env, listsGroups }: ScenarioOptions): Promise<void> {
  const service = new Service(env);
  const herald = (...args: string[]) => runCli(args, env);
  await service.start();
  try {
    // poison: p/0 dies, p/1 parks behind it (park-key), q/0 dies; a/0 and b/0 flow
    const a0 = await service.publish('a', 0);
    const p0 = await service.publish('p', 0, true);
    const p1 = await service.publish('p', 1);
    const q0 = await service.publish('q', 0, true);
    const b0 = await service.publish('b', 0);
    await eventually('two dead letters and one parked', async () => (await service.app!.deadLetters()).length === 3 && (await service.applied()).steps.length === 2);

    // dlq list: pages by cursor, in the order letters were added
    // (keys p and q sit in different partitions, handled concurrently: only p's letters have an order)
    const all = json<DeadLetterPage>(await herald('dlq', 'list', '--json'));
    const byEvent = (letters: readonly DeadLetter[]) => letters.map((l) => [l.eventId, l.status, l.reason]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    expect(byEvent(all.letters)).toEqual(
      [
        [p0.id, 'dead', 'handler-failed'],
        [p1.id, 'parked', 'parked-behind-key'],
        [q0.id, 'dead', 'handler-failed'],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    const ids = all.letters.map((l) => l.eventId);
    expect(ids.indexOf(p0.id)).toBeLessThan(ids.indexOf(p1.id));
    const first = json<DeadLetterPage>(await herald('dlq', 'list', '--limit', '2', '--json'));
    const second = json<DeadLetterPage>(await herald('dlq', 'list', '--limit', '2', '--cursor', first.next!, '--json'));
    expect(second.next).toBeNull();
    expect([...first.letters, ...second.letters].map((l) => l.id), 'the pages, in order, are the whole list').toEqual(all.letters.map((l) => l.id));
    const table = await herald('dlq', 'list');
    expect(table.stdout).toContain('poisoned step q/0');

    // dlq groups: both poisoned steps failed the same way
    const groups = json<DeadLetterGroup[]>(await herald('dlq', 'groups', '--json'));
    expect(groups.map((g) => [g.reason, g.count])).toEqual([
      ['handler-failed', 2],
      ['parked-behind-key', 1],
    ]);
    const poisoned = groups[0]!;

    // dlq redrive: refused without --yes in a script; then the fingerprint group, its parked follower included
    const refused = await herald('dlq', 'redrive', '--fingerprint', poisoned.fingerprint);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('without confirmation: stdin is not a terminal; pass --yes');
    // which engine it would act on: the CLI follows the environment, production's too
    expect(refused.stderr).toMatch(/\) on (embedded \(\/|kafka \([^)]+\) \+ postgresql \()[^)]+\) without confirmation/);
    service.sick = false;
    const redrive = json<{ redriven: number; added: number; letters: { eventId: string }[] }>(await herald('dlq', 'redrive', '--fingerprint', poisoned.fingerprint, '--yes', '--json'));
    expect(redrive).toMatchObject({ redriven: 3, added: 1 });
    const sent = redrive.letters.map((l) => l.eventId);
    expect([...sent].sort()).toEqual([p0.id, p1.id, q0.id].sort());
    expect(sent.indexOf(p0.id), 'a key dead letter first, its parked follower after').toBe(sent.indexOf(p1.id) - 1);
    await eventually('the redriven steps applied', async () => (await service.applied()).steps.length === 5);
    const afterRedrive = await service.applied();
    expect(afterRedrive.steps.indexOf('p/0')).toBeLessThan(afterRedrive.steps.indexOf('p/1'));
    expect([...afterRedrive.perEvent.values()].every((n) => n === 1)).toBe(true);
    // the group marks each letter once it handled its record, just after applying it
    await eventually('the redriven letters marked by their group', async () => json<DeadLetterPage>(await herald('dlq', 'list', '--json')).letters.length === 0);
    expect(json<DeadLetterPage>(await herald('dlq', 'list', '--status', 'redriven', '--json')).letters).toHaveLength(3);

    // redriven twice: nothing left to redrive, unless asked for redriven letters; then the inbox sees a duplicate
    const q0Letter = all.letters.find((l) => l.eventId === q0.id)!;
    expect((await herald('dlq', 'redrive', q0Letter.id, '--yes')).code).toBe(4);
    expect((await herald('dlq', 'redrive', q0Letter.id, '--status', 'redriven', '--yes')).code).toBe(0);
    await eventually('the second redrive seen as a duplicate', () => service.handled.some((f) => f.eventId === q0.id && f.outcome === 'duplicate'));
    expect((await service.applied()).perEvent.get(q0.id)).toBe(1);

    // dlq discard
    service.sick = true;
    const r0 = await service.publish('r', 0, true);
    await eventually('r/0 dead', async () => (await service.app!.deadLetters({ status: 'dead' })).some((l: DeadLetter) => l.eventId === r0.id));
    const discard = json<{ discarded: number }>(await herald('dlq', 'discard', '--key', 'r', '--yes', '--json'));
    expect(discard.discarded).toBe(1);
    expect(json<DeadLetterPage>(await herald('dlq', 'list', '--status', 'discarded', '--json')).letters.map((l) => l.eventId)).toEqual([r0.id]);
    service.sick = false;

    // tail: follows what is appended after it started
    await new Promise((resolve) => setTimeout(resolve, 20));
    const mark = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const tail = spawnCli(['tail', 'cli-steps', '--json', '--limit', '2', '--poll-ms', '50'], env);
    await eventually('tail to follow', () => tail.stderr().includes('following cli-steps'));
    const t0 = await service.publish('t', 0);
    const t1 = await service.publish('t', 1);
    const tailed = await tail.exited;
    expect(tailed.code).toBe(0);
    expect(tailed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { event: Envelope }).event.id)).toEqual([t0.id, t1.id]);
    const byKey = await herald('tail', 'cli-steps', '--from', 'beginning', '--no-follow', '--key', 'a', '--json');
    expect(byKey.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { event: Envelope }).event.id)).toEqual([a0.id]);

    // the read side: topics, groups and lag, outbox
    const [topic] = json<TopicDescription[]>(await herald('topics', 'cli-steps', '--json'));
    const records = topic!.partitions.reduce((sum, p) => sum + p.end - p.start, 0);
    expect(records, '8 events published, and 4 records appended by the two redrives').toBe(12);
    await eventually('lag 0', async () => json<GroupDescription[]>(await herald('lag', 'worker', '--json'))[0]!.totalLag === 0);
    if (listsGroups) expect(json<GroupDescription[]>(await herald('groups', '--json')).map((g) => g.group)).toContain('worker');
    expect(json<unknown[]>(await herald('outbox', '--json'))).toEqual([]);
    expect((await herald('lag', 'worker')).stdout).toMatch(/^GROUP\s+TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG\n/);
    // a group that never ran: named with the topic it would read, it lags by every record retained
    const never = json<GroupDescription[]>(await herald('lag', 'cli-never-ran', '--topic', 'cli-steps', '--json'));
    expect(never.map((g) => [g.group, g.totalLag, g.partitions.length, g.partitions.every((p) => p.committed === null)])).toEqual([
      ['cli-never-ran', records, topic!.partitions.length, true],
    ]);

    // replay: refused while the group runs
    const live = await herald('replay', 'worker', '--to', 'earliest', '--yes');
    expect(live.code).toBe(3);
    expect(live.stderr).toContain('refused: group worker has live members');

    // stopped: back to the earliest record, and everything is delivered again (the inbox keeps effects once)
    await service.stop();
    const earliest = json<{ partitions: PartitionLag[] }>(await herald('replay', 'worker', '--to', 'earliest', '--yes', '--json'));
    expect(earliest.partitions.reduce((sum, p) => sum + p.lag, 0)).toBe(12);
    await service.start();
    // the 8 events are delivered again; the 4 redrive records are skipped, their letters settled
    await eventually('every event delivered again', () => service.handled.length >= 8);
    await eventually('lag 0 after the replay to earliest', async () => json<GroupDescription[]>(await herald('lag', 'worker', '--json'))[0]!.totalLag === 0);
    expect(service.handled).toHaveLength(8);
    const again = new Set(service.handled.map((f) => f.eventId));
    for (const event of [a0, p0, p1, q0, b0, r0, t0, t1]) expect(again.has(event.id), `${event.id} delivered again`).toBe(true);
    const afterReplay = await service.applied();
    // r/0 was discarded, never applied: the replay applies it now; everything else stays applied once
    expect([...afterReplay.perEvent.values()].every((n) => n === 1)).toBe(true);
    expect(afterReplay.steps).toHaveLength(8);

    // to a point in time: only what was appended after it
    await service.stop();
    const since = json<{ partitions: PartitionLag[] }>(await herald('replay', 'worker', '--to', new Date(mark).toISOString(), '--yes', '--json'));
    expect(since.partitions.reduce((sum, p) => sum + p.lag, 0)).toBe(2);
    await service.start();
    await eventually('t/0 and t/1 delivered again', () => service.handled.length >= 2);
    await eventually('lag 0 after the replay', async () => json<GroupDescription[]>(await herald('lag', 'worker', '--json'))[0]!.totalLag === 0);
    expect(service.handled.map((f) => [f.eventId, f.outcome])).toEqual([
      [t0.id, 'duplicate'],
      [t1.id, 'duplicate'],
    ]);
  } finally {
    await service.stop();
  }
}
