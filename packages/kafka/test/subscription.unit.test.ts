import { EventEmitter } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createManualClock, HeraldError } from '@herald/core';
import type { DeliverySink, Logger, TopicPartition } from '@herald/core';
import { KafkaErrors, resolveKafkaOptions } from '../src/index.js';
import { openSubscription, REJOIN_BACKOFF_MAX_MS } from '../src/internal/subscription.js';

/** Lets queued promise callbacks and I/O turns run (no clock time passes). */
const turns = async (count = 20) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** kafkajs' error for a join the brokers refuse for good (it crashes with restart: false). */
const refusedForGood = () =>
  Object.assign(new Error('Not authorized to access group'), { name: 'KafkaJSProtocolError', type: 'GROUP_AUTHORIZATION_FAILED', retriable: false });

/** A pending promise the test settles. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

type RunOutcome = { join: Record<string, number[]> } | { crash: Error } | { hang: Promise<void> };

/**
 * A stand-in for a kafkajs consumer, as `openSubscription` uses it: `run` joins, crashes or hangs as
 * scripted (as kafkajs 2.2.4 does, a refused join emits CRASH with restart: false and `run` still
 * resolves); `connect` can be held. Events are emitted synchronously, as kafkajs' emitter does. As
 * kafkajs 2.2.4's, `commitOffsets` commits (and emits COMMIT_OFFSETS) only while the consumer runs
 * (from a join until a crash), and otherwise resolves having committed nothing.
 */
function fakeConsumer(script: (run: number) => RunOutcome) {
  const emitter = new EventEmitter();
  const events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash', COMMIT_OFFSETS: 'consumer.commit_offsets' };
  const counts = { connects: 0, runs: 0, disconnects: 0 };
  /** Offsets the group committed (`topic/partition@offset`), in order. */
  const committed: string[] = [];
  let running = false;
  let holdConnect: Promise<void> | undefined;
  const join = (assignment: Record<string, number[]>) => {
    emitter.emit(events.GROUP_JOIN, { payload: { memberAssignment: assignment } });
    running = true;
  };
  const crash = (error: Error, restart = false) => {
    running = false;
    emitter.emit(events.CRASH, { payload: { error, restart } });
  };
  const consumer = {
    events,
    on: (name: string, listener: (event: unknown) => void) => emitter.on(name, listener),
    connect: async () => {
      counts.connects++;
      // a connect is I/O: it yields to the event loop, as a real one does
      await new Promise((resolve) => setImmediate(resolve));
      await holdConnect;
    },
    subscribe: async () => {},
    run: async () => {
      const outcome = script(++counts.runs);
      if ('join' in outcome) join(outcome.join);
      else if ('crash' in outcome) crash(outcome.crash);
      else await outcome.hang;
    },
    disconnect: async () => {
      counts.disconnects++;
    },
    pause: () => {},
    resume: () => {},
    seek: () => {},
    commitOffsets: async (offsets: { topic: string; partition: number; offset: string }[]) => {
      await Promise.resolve(); // a round trip
      if (!running) return;
      committed.push(...offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`));
      const topics = [...new Set(offsets.map((o) => o.topic))].map((topic) => ({ topic, partitions: offsets.filter((o) => o.topic === topic) }));
      emitter.emit(events.COMMIT_OFFSETS, { payload: { topics } });
    },
  };
  return {
    kafka: { consumer: () => consumer } as never,
    counts,
    committed,
    join,
    crash,
    holdConnect: (until: Promise<void>) => (holdConnect = until),
  };
}

function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    debug: (message, fields) => lines.push({ level: 'debug', message, fields }),
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
    child: () => logger,
  };
  return { logger, lines, messages: (text: string) => lines.filter((l) => l.message.includes(text)) };
}

function setup(script: (run: number) => RunOutcome, admin: () => Promise<never> = () => new Promise(() => {})) {
  const consumer = fakeConsumer(script);
  const log = recordingLogger();
  const clock = createManualClock();
  const revoked: TopicPartition[][] = [];
  /** What the sink does in `revoked`, after recording the call (a real one finishes its work and commits). */
  let whenRevoked: (tps: readonly TopicPartition[]) => Promise<void> = async () => {};
  const sink: DeliverySink = {
    deliver: async () => {},
    revoked: async (tps) => {
      revoked.push([...tps]);
      await whenRevoked(tps);
    },
  };
  const options = resolveKafkaOptions({
    brokers: ['127.0.0.1:1'],
    closeTimeoutMs: 50,
    group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 100, rebalanceTimeoutMs: 1_000 },
    logger: log.logger,
  });
  const open = async () => {
    const subscription = await openSubscription({ kafka: consumer.kafka, admin, offsets: {} as never, options, logger: log.logger, clock }, { group: 'g', topics: ['orders'] }, sink);
    // a failed assertion must not leave a rejoin loop running into the next test
    onTestFinished(() => void subscription.close());
    return subscription;
  };
  const onRevoked = (fn: typeof whenRevoked) => (whenRevoked = fn);
  return { ...consumer, ...log, clock, revoked, onRevoked, open };
}

describe('openSubscription after a crash kafkajs does not recover from', () => {
  it('backs off before every rejoin while the join keeps being refused, never says it rejoined, and close ends the backoff', async () => {
    const member = setup((run) => (run === 1 ? { join: {} } : { crash: refusedForGood() }));
    const subscription = await member.open();
    member.crash(refusedForGood());
    await turns();
    expect(member.counts.runs).toBe(1); // the first rejoin waits heartbeatIntervalMs

    // each refused join is followed by a pause twice as long: 100, 200, 400, 800 ms
    const runsAfter: number[] = [];
    for (const ms of [100, 200, 400, 800]) {
      await member.clock.advance(ms - 1);
      await turns();
      runsAfter.push(member.counts.runs);
      await member.clock.advance(1);
      await turns();
      runsAfter.push(member.counts.runs);
    }
    expect(runsAfter).toEqual([1, 2, 2, 3, 3, 4, 4, 5]);
    expect(member.messages('rejoined the group')).toEqual([]);
    expect(member.messages('rejoining the group failed; trying again').map((l) => l.fields?.delayMs)).toEqual([200, 400, 800, 1_600]);

    await subscription.close(); // resolves with a backoff still pending
    await member.clock.advance(REJOIN_BACKOFF_MAX_MS);
    await turns();
    expect(member.counts.runs).toBe(5);
    expect(member.clock.pending()).toBe(0);
  });

  it('caps the backoff, says it rejoined only once a join came, and starts the next crash from the shortest pause', async () => {
    let refusals = 10;
    const member = setup((run) => (run === 1 || refusals-- <= 0 ? { join: {} } : { crash: refusedForGood() }));
    const subscription = await member.open();
    member.crash(refusedForGood());
    while (member.messages('rejoined the group').length === 0) {
      await member.clock.advance(1_000);
      await turns();
    }
    const delays = member.messages('rejoining the group failed; trying again').map((l) => l.fields?.delayMs as number);
    expect(Math.max(...delays)).toBe(REJOIN_BACKOFF_MAX_MS);
    expect(member.messages('rejoined the group').map((l) => l.fields)).toEqual([{ attempts: 11 }]);
    expect(member.counts.runs).toBe(12);

    member.crash(refusedForGood());
    await member.clock.advance(99);
    await turns();
    expect(member.counts.runs).toBe(12);
    await member.clock.advance(1);
    await turns();
    expect(member.counts.runs).toBe(13);
    expect(member.messages('rejoined the group').map((l) => l.fields)).toEqual([{ attempts: 11 }, { attempts: 1 }]);
    await subscription.close();
  });
});

describe('openSubscription after a crash on a batch it cannot decompress', () => {
  it('logs the record-batch-undecodable error as the cause, not a bare crash, and rejoins after the backoff', async () => {
    const member = setup(() => ({ join: {} }));
    await member.open();
    // as kafkajs reports a fetch that failed: its own error, wrapping the codec's
    const undecodable = new HeraldError(KafkaErrors.batchUndecodable, 'kafka: records compressed with snappy could not be decompressed (corrupt)');
    member.crash(Object.assign(new Error('fetch failed'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: undecodable }));
    await turns();
    expect(member.messages('consumer crashed').map((l) => l.message)).toEqual([
      'kafka: consumer crashed on a record batch it cannot decompress, which fails every fetch that holds it; rejoining',
    ]);
    await member.clock.advance(100);
    await turns();
    expect(member.counts.runs).toBe(2);
  });
});

describe('openSubscription close', () => {
  it('keeps to closeTimeoutMs when a placement waits on brokers that stopped answering, then revokes and leaves', async () => {
    // the admin client never answers: placing a gained partition never ends
    const member = setup(() => ({ join: {} }));
    const subscription = await member.open();
    member.join({ orders: [0] }); // a rebalance gives this member a partition
    await turns();
    const outcome = await Promise.race([subscription.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 2_000, 'still waiting'))]);
    expect(outcome).toBe('closed');
    expect(member.revoked).toEqual([[{ topic: 'orders', partition: 0 }]]);
    expect(member.counts.disconnects).toBeGreaterThanOrEqual(1);
    expect(member.messages('closing without waiting')).toHaveLength(1);
  });

  it('keeps to closeTimeoutMs when a rejoin hangs connecting, and the rejoin connects nothing afterwards', async () => {
    const member = setup((run) => (run === 1 ? { join: {} } : { crash: refusedForGood() }));
    const subscription = await member.open();
    const brokersBack = gate();
    member.holdConnect(brokersBack.promise);
    member.crash(refusedForGood());
    await member.clock.advance(100);
    await turns();
    expect(member.counts.connects).toBe(2); // the rejoin is connecting

    const outcome = await Promise.race([subscription.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 2_000, 'still waiting'))]);
    expect(outcome).toBe('closed');
    const disconnectsAtClose = member.counts.disconnects;
    brokersBack.open();
    await turns();
    expect(member.counts.runs).toBe(1); // no join after close
    // the connect that finished after close is undone
    expect(member.counts.disconnects).toBeGreaterThan(disconnectsAtClose);
  });
});

describe('openSubscription commits', () => {
  /** Answers a placement: nothing committed yet, everything retained. */
  const admin = async () =>
    ({
      fetchOffsets: async () => [{ topic: 'orders', partitions: [{ partition: 0, offset: '-1', metadata: null }] }],
      fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: '10', offset: '10' }],
    }) as never;

  it('fails a commit, retriable, while kafkajs restarts after a crash (it resolves having committed nothing); commits again once rejoined', async () => {
    const member = setup(() => ({ join: { orders: [0] } }), admin);
    const subscription = await member.open();
    await subscription.commit([{ topic: 'orders', partition: 0, offset: 5 }]);

    member.crash(new Error('Connection error'), true); // kafkajs restarts by itself
    const refused = await subscription.commit([{ topic: 'orders', partition: 0, offset: 6 }]).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'broker-unavailable', retriable: true });

    member.join({ orders: [0] }); // the restart's join
    await subscription.commit([{ topic: 'orders', partition: 0, offset: 6 }]);
    expect(member.committed).toEqual(['orders/0@5', 'orders/0@6']);
  });

  it('sends no commit of a partition the rebalance gave another member, not even the one made in revoked (it would land in the new generation, over the new owner’s)', async () => {
    const member = setup(() => ({ join: { orders: [0] } }), admin);
    const subscription = await member.open();
    await subscription.commit([{ topic: 'orders', partition: 0, offset: 5 }]);
    const commitInRevoked = gate<unknown>();
    member.onRevoked(async () => commitInRevoked.open(await subscription.commit([{ topic: 'orders', partition: 0, offset: 9 }]).catch((e: unknown) => e)));

    member.join({ orders: [] }); // kafkajs already joined the next generation when revoked runs
    expect(await commitInRevoked.promise, 'the commit in revoked resolves: its records are redelivered, which is safe').toBeUndefined();
    expect(member.revoked).toEqual([[{ topic: 'orders', partition: 0 }]]);
    expect(member.committed, 'only the commit made while the partition was this member’s').toEqual(['orders/0@5']);
    expect(member.messages('no longer owns').map((l) => l.fields)).toEqual([{ dropped: ['orders/0@9'] }]);
  });
});
