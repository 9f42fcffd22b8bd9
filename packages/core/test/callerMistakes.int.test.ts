import { afterEach, describe, expect, it } from 'vitest';
import { apps, closeApps, Echo, newApp, Step } from './appFixture.js';
import { eventually } from './support.js';
import { createApp, jsonLogger, readEvent, silentLogger, systemClock, type AppOptions, type Envelope } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';

// What a plain JavaScript caller can pass that TypeScript would have refused: each is refused at
// the call with invalid-options naming the argument, what was given and what was expected.

afterEach(closeApps);

/** `value` as a JavaScript caller passes it, past the types. */
const js = (value: unknown): never => value as never;
const refusal = (message: string) => expect.objectContaining({ code: 'invalid-options', message });
const notADefinition = (argument: string, given: string) => refusal(`${argument}: expected an event definition from defineEvent(), got ${given}`);

describe('a value that is not an event definition', () => {
  const asString = 'a string ("Step")';
  const bare = 'an object with keys type, topic';

  it('is refused by every publish of the app, before anything is written', async () => {
    const { app, stores } = newApp();
    await expect(app.publish(js('Step'), { key: 'k', seq: 1 })).rejects.toThrow(notADefinition('publish: definition', asString));
    await expect(app.publish(js({ type: 'Step', topic: 'steps' }), { key: 'k', seq: 1 })).rejects.toThrow(notADefinition('publish: definition', bare));
    await expect(app.publish.many(js('Step'), [])).rejects.toThrow(notADefinition('publish.many: definition', asString));
    await expect(app.publish.schedule(js(undefined), { key: 'k', seq: 1 }, { afterMs: 10 })).rejects.toThrow(notADefinition('publish.schedule: definition', 'undefined'));
    await expect(app.transaction((_tx, publish) => publish(js('Step'), { key: 'k', seq: 1 }))).rejects.toThrow(notADefinition('publish: definition', asString));
    await expect(app.publishDirect(js('Step'), { key: 'k', seq: 1 })).rejects.toThrow(notADefinition('publishDirect: definition', asString));
    await expect(app.publishDirect.many(js({ type: 'Step', topic: 'steps' }), [])).rejects.toThrow(notADefinition('publishDirect.many: definition', bare));
    expect(await stores.outbox.backlog()).toEqual([]);
  });

  it("is refused by a handler's ctx.publish, which the handler can catch", async () => {
    const { app } = newApp();
    const caught: unknown[] = [];
    app.on(Step, { group: 'worker' }, async (_event, ctx) => {
      await ctx.publish(js('Echo'), { key: 'k', seq: 1 }).catch((error: unknown) => caught.push(error));
    });
    await app.start();
    await app.publish(Step, { key: 'k', seq: 1 });
    await eventually(() => caught.length === 1, 'the handler to catch its publish error');
    expect(caught[0]).toEqual(notADefinition('publish: definition', 'a string ("Echo")'));
  });

  it('is refused by on() and onBatch(), alone or in a list, and by createApp events and readEvent', () => {
    const { app } = newApp();
    expect(() => app.on(js('Step'), { group: 'a' }, async () => {})).toThrow(notADefinition('on(): definition', asString));
    expect(() => app.on(js([Step, { type: 'Echo', topic: 'echoes' }]), { group: 'a' }, async () => {})).toThrow(notADefinition('on(): definitions[1]', bare));
    expect(() => app.onBatch(js('Step'), { group: 'b' }, async () => {})).toThrow(notADefinition('onBatch(): definition', asString));
    expect(app.groups).toEqual([]);
    const engine = { broker: memoryBroker(), stores: memoryStores(), logger: silentLogger };
    expect(() => createApp<MemoryTx>({ ...engine, events: js([Step, 'Echo']) })).toThrow(notADefinition('createApp: events[1]', 'a string ("Echo")'));
    expect(() => createApp<MemoryTx>({ ...engine, events: js(Step) })).toThrow(refusal(expect.stringContaining('createApp: events: expected an array of event definitions')));
    const envelope = { type: 'Step', version: 1 } as Envelope;
    expect(() => readEvent(js('Step'), envelope)).toThrow(notADefinition('readEvent: definition', asString));
  });
});

describe('handler options', () => {
  it('say that options is an object holding the group, and that the group is required', () => {
    const { app } = newApp();
    const handler = async () => {};
    expect(() => app.on(Step, js('worker'), handler)).toThrow(refusal(`on(): options must be an object such as { group: 'billing' }, got a string ("worker")`));
    expect(() => app.on(Step, js(undefined), handler)).toThrow(refusal(`on(): options must be an object such as { group: 'billing' }, got undefined`));
    expect(() => app.on(Step, js({}), handler)).toThrow(refusal(`on(): options.group is required, e.g. { group: 'billing' }`));
    expect(() => app.onBatch(Step, js({ name: 'x' }), handler)).toThrow(refusal(`onBatch(): options.group is required, e.g. { group: 'billing' }`));
    expect(() => app.on(Step, js({ group: 7 }), handler)).toThrow(refusal(expect.stringMatching(/^on\(\): options\.group must be a name matching .*, got a number \(7\)$/)));
    expect(app.on(Step, { group: 'worker' }, handler).groups).toEqual(['worker']);
  });

  it('refuse a key that is no handler option, and so do handlerDefaults and a group\'s settings', () => {
    const { app } = newApp();
    const handler = async () => {};
    expect(() => app.on(Step, js({ group: 'worker', deadletter: 'park-key' }), handler)).toThrow(refusal('on(): unknown option "deadletter" (did you mean "deadLetter"?)'));
    expect(() => app.onBatch(Step, js({ group: 'worker', concurrency: 4 }), handler)).toThrow(refusal(expect.stringMatching(/^onBatch\(\): unknown option "concurrency" \(the options are group, name, pipeline, retry, timeoutMs, deadLetter, middleware\)$/)));
    const parts = { broker: memoryBroker(), stores: memoryStores(), logger: silentLogger };
    expect(() => createApp<MemoryTx>(js({ ...parts, handlerDefaults: { timeout: 5_000 } }))).toThrow(refusal('createApp: handlerDefaults: unknown option "timeout" (did you mean "timeoutMs"?)'));
    expect(() => createApp<MemoryTx>(js({ ...parts, groups: { worker: { concurency: 4 } } }))).toThrow(refusal('groups.worker: unknown option "concurency" (did you mean "concurrency"?)'));
  });
});

describe('createApp options', () => {
  const parts = () => ({ broker: memoryBroker(), stores: memoryStores(), logger: silentLogger });

  it('refuses a key that is no option, naming it and the option it was probably meant to be', () => {
    expect(() => createApp<MemoryTx>(js({ ...parts(), relayy: false }))).toThrow(refusal('createApp: unknown option "relayy" (did you mean "relay"?)'));
    expect(() => createApp<MemoryTx>(js({ ...parts(), HandlerDefaults: {} }))).toThrow(refusal('createApp: unknown option "HandlerDefaults" (did you mean "handlerDefaults"?)'));
    expect(() => createApp<MemoryTx>(js({ ...parts(), dataDir: '.herald' }))).toThrow(refusal(expect.stringMatching(/^createApp: unknown option "dataDir" \(the options are name, broker, stores, .*closeDeadlineMs\)$/)));
    // a typo of a required option is named as such, not reported as the option missing
    const { broker: _, ...rest } = parts();
    expect(() => createApp<MemoryTx>(js({ ...rest, brokr: memoryBroker() }))).toThrow(refusal('createApp: unknown option "brokr" (did you mean "broker"?)'));
  });

  it("takes every documented option, and an engine object's own keys spread in with them", async () => {
    const { broker, stores, logger } = parts();
    // the keys @herald/engine's Engine (kind, description, close) and sqliteEngine's (close, relayHost) carry
    const engine = { kind: 'embedded', broker, stores, description: 'memory', close: async () => {} };
    const every: Required<Omit<AppOptions<MemoryTx>, 'relayHost'>> = {
      ...engine,
      name: 'all-options',
      events: [Step],
      topics: [{ name: 'steps', partitions: 1 }],
      clock: systemClock,
      logger,
      maxEventBytes: 10_000,
      handlerDefaults: { timeoutMs: 1_000 },
      groups: { worker: { commitIntervalMs: 10 } },
      pipeline: (p) => p,
      relay: { idleMs: 2 },
      timers: { pollIntervalMs: 50 },
      transactionBatch: 1,
      closeDeadlineMs: 1_000,
    };
    const app = createApp<MemoryTx>(every);
    apps.push(app);
    const seen: number[] = [];
    app.on(Echo, { group: 'worker' }, async (event) => void seen.push(event.data.seq));
    await app.start();
    await app.publish(Echo, { key: 'k', seq: 1 });
    await eventually(() => seen.length === 1, 'the echo');
  });
});

describe('HERALD_LOG_LEVEL', () => {
  const saved = process.env.HERALD_LOG_LEVEL;
  afterEach(() => {
    if (saved === undefined) delete process.env.HERALD_LOG_LEVEL;
    else process.env.HERALD_LOG_LEVEL = saved;
  });
  const levels = 'debug, info, warn, error, silent';

  it("refuses a level that is none of Herald's where the default logger is made: in createApp", () => {
    process.env.HERALD_LOG_LEVEL = 'verbose';
    const { logger: _, ...engine } = { broker: memoryBroker(), stores: memoryStores(), logger: silentLogger };
    expect(() => createApp<MemoryTx>(engine)).toThrow(refusal(`HERALD_LOG_LEVEL must be one of ${levels}, got "verbose"`));
    // an app given its own logger does not read the variable
    expect(() => createApp<MemoryTx>({ ...engine, logger: silentLogger })).not.toThrow();
    expect(() => jsonLogger({ level: js('verbose') })).toThrow(refusal(`jsonLogger: level must be one of ${levels}, got a string ("verbose")`));
  });

  it('reads the level trimmed and in any case, once, for the logger and its children', () => {
    process.env.HERALD_LOG_LEVEL = ' WARN ';
    const lines: string[] = [];
    const logger = jsonLogger({ write: (line) => lines.push(line) });
    process.env.HERALD_LOG_LEVEL = 'verbose';
    const child = logger.child({ component: 'relay' });
    logger.info('dropped');
    child.info('dropped too');
    child.warn('kept');
    expect(lines.map((line) => JSON.parse(line) as { msg: string; component?: string })).toEqual([expect.objectContaining({ msg: 'kept', component: 'relay' })]);
  });
});
