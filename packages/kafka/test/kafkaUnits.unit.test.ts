import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { AssignerProtocol, Kafka, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSSASLAuthenticationError, logLevel } from 'kafkajs';
import type { Cluster } from 'kafkajs';
import { createManualClock, jsonLogger } from '@herald/core';
import type { Logger, ManualClock } from '@herald/core';
import { parseBootstrap, startKafkaMock } from '@herald/testing/kafka-mock';
import { KAFKA_DEFAULTS, resolveKafkaOptions } from '../src/index.js';
import { roundRobinToEveryMember } from '../src/internal/assigner.js';
import { routeLog } from '../src/internal/client.js';
import { consumerControls } from '../src/internal/consumerControls.js';
import { isCoordinationError, isRefusedSync, retryCoordination } from '../src/internal/coordination.js';
import { toDelivery } from '../src/internal/delivery.js';
import { toHeraldError } from '../src/internal/errors.js';

/** kafkajs's own protocol errors by code (not among its exports). */
const kafkajsErrors = createRequire(import.meta.url)('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error };

describe('resolveKafkaOptions', () => {
  it('applies the defaults in one place', () => {
    const resolved = resolveKafkaOptions({ brokers: ['localhost:9092'], fetch: { maxWaitMs: 5 } });
    expect(resolved.fetch).toEqual({ ...KAFKA_DEFAULTS.fetch, maxWaitMs: 5 });
    expect(resolved.group).toEqual(KAFKA_DEFAULTS.group);
    expect(resolved.compression).toBe('none');
    expect(resolved.retries).toBe(5);
  });

  it.each([
    [{ brokers: [] }, /brokers must be a non-empty array/],
    [{ brokers: ['no-port'] }, /is not host:port/],
    [{ brokers: ['a:1'], compression: 'snappy' }, /compression must be/],
    [{ brokers: ['a:1'], retries: -1 }, /retries must be an integer >= 0/],
    [{ brokers: ['a:1'], group: { sessionTimeoutMs: 1000, heartbeatIntervalMs: 1000 } }, /heartbeatIntervalMs must be below/],
    [{ brokers: ['a:1'], topics: [{ name: 't', partitions: 0 }] }, /partitions >= 1/],
    [{ brokers: ['a:1'], sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }, /sasl.mechanism/],
  ])('rejects %j', (options, message) => {
    expect(() => resolveKafkaOptions(options as never)).toThrow(message);
    try {
      resolveKafkaOptions(options as never);
    } catch (error) {
      expect(error).toMatchObject({ code: 'invalid-options', retriable: false });
    }
  });
});

describe('toDelivery', () => {
  const tp = { topic: 'orders', partition: 2 };
  // as kafkajs 2.2.4 decodes a record: bytes or null for key, value and every header value
  const message = (fields: Record<string, unknown>) => ({ offset: '7', timestamp: '1700000000123', attributes: 0, size: 0, key: null, value: null, headers: {}, ...fields }) as never;

  it('leaves out header values that are null, alone or among repeated values, instead of throwing', () => {
    const delivery = toDelivery(tp, message({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      headers: { gone: null, repeated: [Buffer.from('first'), Buffer.from('last'), null], onlyNulls: [null, null], kept: Buffer.from('yes') },
    }));
    expect(delivery).toEqual({ ...tp, offset: 7, key: 'k', value: 'v', headers: { repeated: 'last', kept: 'yes' }, timestamp: 1_700_000_000_123 });
  });

  it('decodes bytes that are not UTF-8 lossily, and a null key or value as empty text', () => {
    const invalid = Buffer.from([0x61, 0xff, 0x62]);
    const delivery = toDelivery(tp, message({ key: null, value: invalid, headers: { h: invalid } }));
    expect(delivery).toMatchObject({ key: '', value: 'a\uFFFDb', headers: { h: 'a\uFFFDb' } });
  });
});

describe('toHeraldError', () => {
  it('marks oversized records as event-too-large, never retriable', () => {
    const error = toHeraldError(Object.assign(new Error('too big'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false }), 'publishing');
    expect(error).toMatchObject({ code: 'event-too-large', retriable: false });
  });

  /** A protocol error of `code` as kafkajs 2.2.4 makes it, wrapped the way its retrier ends: gave up (retriable) or bailed. */
  function fromBroker(code: number): Error {
    const protocolError = kafkajsErrors.createErrorFromCode(code) as Error & { retriable: boolean };
    return protocolError.retriable
      ? Object.assign(new KafkaJSNumberOfRetriesExceeded(protocolError, { retryCount: 5, retryTime: 1_000 }), { cause: protocolError })
      : Object.assign(new KafkaJSNonRetriableError(protocolError), { cause: protocolError });
  }

  it('tells answers about a topic from an unavailable broker: a missing topic is retriable, a refused name or access is not', () => {
    const classify = (code: number) => {
      const error = toHeraldError(fromBroker(code), "publishing 1 records to 'orders'");
      return { code: error.code, retriable: error.retriable };
    };
    expect(classify(3)).toEqual({ code: 'topic-unavailable', retriable: true }); // UNKNOWN_TOPIC_OR_PARTITION
    expect(classify(17)).toEqual({ code: 'topic-invalid', retriable: false }); // INVALID_TOPIC_EXCEPTION
    expect(classify(29)).toEqual({ code: 'topic-not-authorized', retriable: false }); // TOPIC_AUTHORIZATION_FAILED
    expect(classify(19)).toEqual({ code: 'broker-unavailable', retriable: true }); // NOT_ENOUGH_REPLICAS: the brokers
    expect(toHeraldError(fromBroker(3), "publishing 1 records to 'orders'").message).toContain("'orders'");
  });

  it('tells refused credentials, which are about the client, from records refused for good: authentication-failed, retriable', () => {
    // as kafkajs throws it from connect (a producer's or a consumer's), and as a broker answers it
    // (kafkajs's types declare no constructor argument; its code takes the message)
    const Refused = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
    const fromConnect = new Refused('SASL PLAIN authentication failed: SASL Authentication failed');
    expect(toHeraldError(fromConnect, 'connecting the producer')).toMatchObject({ code: 'authentication-failed', retriable: true });
    expect(toHeraldError(fromBroker(58), "publishing 1 records to 'orders'")).toMatchObject({ code: 'authentication-failed', retriable: true });
  });

  it('tells a group the client may not use, which no retry mends, from an unavailable broker: group-not-authorized', () => {
    // as kafkajs 2.2.4 ends a join (FindCoordinator or JoinGroup answered GROUP_AUTHORIZATION_FAILED)
    const error = toHeraldError(fromBroker(30), "subscribing group 'billing' to orders");
    expect(error).toMatchObject({ code: 'group-not-authorized', retriable: false });
    expect(error.message).toContain("'billing'");
  });

  it('tells a commit refused because the group is rebalancing, or the member generation ended, apart: group-rebalancing, retriable', () => {
    // kafkajs 2.2.4 marks these not retriable, so its retrier bails with a KafkaJSNonRetriableError
    for (const code of [27, 22, 25]) { // REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID
      expect(toHeraldError(fromBroker(code), "committing offsets of group 'billing'")).toMatchObject({ code: 'group-rebalancing', retriable: true });
    }
  });

  it('maps whatever was thrown, also a value String() cannot print (no prototype), and redacts its text', () => {
    const bare = Object.assign(Object.create(null) as object, { detail: 'socket closed' });
    expect(toHeraldError(bare, 'fetching')).toMatchObject({ code: 'broker-unavailable', message: 'kafka: fetching failed: {"detail":"socket closed"}' });
    expect(toHeraldError(new Error('SASL failed for postgres://u:hunter2@db/x'), 'connecting').message).not.toContain('hunter2');
  });

  it('keeps kafkajs retriability, and treats exhausted retries as retriable later', () => {
    expect(toHeraldError(Object.assign(new Error('auth'), { retriable: false }), 'x')).toMatchObject({ code: 'broker-unavailable', retriable: false });
    const exhausted = Object.assign(new Error('gave up'), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: Object.assign(new Error('conn'), { retriable: true }) });
    expect(toHeraldError(exhausted, 'x')).toMatchObject({ code: 'broker-unavailable', retriable: true });
  });
});

/** A kafkajs protocol error of `type`, optionally wrapped the way kafkajs wraps exhausted retries. */
function kafkaError(type: string, wrapped = false): Error {
  const protocol = Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable: true });
  return wrapped ? Object.assign(new Error('gave up'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: protocol }) : protocol;
}

/** Settles `work`, advancing `clock` whenever it waits. */
async function drive<T>(work: Promise<T>, clock: ManualClock): Promise<PromiseSettledResult<T>> {
  let settled: PromiseSettledResult<T> | undefined;
  void Promise.allSettled([work]).then(([result]) => (settled = result));
  while (!settled) {
    await new Promise((resolve) => setImmediate(resolve));
    if (clock.pending() > 0) await clock.advance(100);
  }
  return settled;
}

describe('retryCoordination', () => {
  const options = (clock: ManualClock, deadline: number) => ({ doing: 'resetting', deadline, backoffMs: 100, clock, logger: jsonLogger({ level: 'silent' }) });

  it('tries again after answers that mean the group is moving, pausing between attempts and passing the time left', async () => {
    const clock = createManualClock();
    const failures = [kafkaError('NOT_COORDINATOR', true), kafkaError('REBALANCE_IN_PROGRESS')];
    const calls: [number, number][] = [];
    const result = await drive(
      retryCoordination(async (remainingMs) => {
        calls.push([clock.now(), remainingMs]);
        const failure = failures.shift();
        if (failure) throw failure;
        return 'reset';
      }, options(clock, 1_000)),
      clock,
    );
    expect(result).toEqual({ status: 'fulfilled', value: 'reset' });
    expect(calls).toEqual([[0, 1_000], [100, 900], [200, 800]]);
  });

  it('gives up at once on any other failure', async () => {
    const clock = createManualClock();
    const refusal = Object.assign(new Error('live members'), { code: 'group-active', retriable: false });
    let calls = 0;
    const result = await drive(retryCoordination(async () => { calls++; throw refusal; }, options(clock, 1_000)), clock);
    expect(result).toEqual({ status: 'rejected', reason: refusal });
    expect(calls).toBe(1);
  });

  it('fails with a retriable timeout carrying the last failure when the deadline leaves no room for another attempt', async () => {
    const clock = createManualClock();
    const failures = [kafkaError('COORDINATOR_LOAD_IN_PROGRESS'), kafkaError('ILLEGAL_GENERATION'), kafkaError('UNKNOWN_MEMBER_ID')];
    let calls = 0;
    const result = await drive(retryCoordination(async () => { throw failures[calls++]; }, options(clock, 250)), clock);
    expect(calls).toBe(3);
    expect(result.status).toBe('rejected');
    const reason = (result as PromiseRejectedResult).reason as Error;
    expect(reason).toMatchObject({ code: 'timeout', retriable: true });
    expect(reason.cause).toBe(failures[2]);
  });

  it('classifies coordination answers anywhere in the cause chain, and the mock\'s refused SyncGroup apart from them', () => {
    expect(isCoordinationError(kafkaError('COORDINATOR_NOT_AVAILABLE', true))).toBe(true);
    expect(isCoordinationError(kafkaError('INVALID_REQUEST'))).toBe(false);
    expect(isCoordinationError(new Error('ECONNREFUSED'))).toBe(false);
    // kafkajs's own error when no broker answered FindCoordinator: a class name, no protocol type
    const notFound = Object.assign(new Error('Failed to find group coordinator'), { name: 'KafkaJSGroupCoordinatorNotFound' });
    expect(isCoordinationError(notFound)).toBe(true);
    expect(isCoordinationError(Object.assign(new Error('crashed'), { name: 'KafkaJSNonRetriableError', cause: notFound }))).toBe(true);
    expect(isRefusedSync(kafkaError('INVALID_REQUEST', true))).toBe(true);
    expect(isRefusedSync(kafkaError('REBALANCE_IN_PROGRESS'))).toBe(false);
  });
});

describe('roundRobinToEveryMember', () => {
  // the one thing kafkajs's round robin reads from the cluster: the partitions of each topic
  const cluster = { findTopicPartitionMetadata: () => [0, 1].map((partitionId) => ({ partitionId })) } as unknown as Cluster;
  const members = ['m-a', 'm-b', 'm-c'].map((memberId) => ({ memberId, memberMetadata: Buffer.alloc(0) }));

  it('names every member, giving those beyond the partition count an empty assignment, under the round robin protocol name', async () => {
    let counted: number | undefined;
    const assigner = roundRobinToEveryMember((count) => (counted = count))({ cluster, groupId: 'g', logger: undefined as never });
    expect(assigner.name).toBe('RoundRobinAssigner');
    const given = await assigner.assign({ members, topics: ['orders'] });
    const decoded = Object.fromEntries(given.map((g) => [g.memberId, AssignerProtocol.MemberAssignment.decode(g.memberAssignment)?.assignment]));
    expect(decoded).toEqual({ 'm-a': { orders: [0] }, 'm-b': { orders: [1] }, 'm-c': {} });
    expect(counted).toBe(3);
  });
});

describe('consumerControls', () => {
  /** A kafkajs consumer whose group does not exist, as between a crash and the restart (no broker is contacted). */
  const stoppedConsumer = () => new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING }).consumer({ groupId: 'g' });
  const recordingLogger = (lines: string[]): Logger => {
    const logger: Logger = { debug: (m) => lines.push(m), info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m), child: () => logger };
    return logger;
  };

  it('skips pause, resume and seek while the consumer is not running, where kafkajs throws, and says so at debug', () => {
    const consumer = stoppedConsumer();
    expect(() => consumer.pause([{ topic: 'orders', partitions: [0] }])).toThrow('Consumer group was not initialized');
    const lines: string[] = [];
    const controls = consumerControls(consumer, recordingLogger(lines));
    controls.pause([{ topic: 'orders', partition: 0 }]);
    controls.resume([{ topic: 'orders', partition: 0 }, { topic: 'payments', partition: 2 }]);
    controls.seek({ topic: 'orders', partition: 1 }, 42);
    expect(lines).toEqual([
      expect.stringMatching(/^kafka: pause skipped, the consumer is not running/),
      expect.stringMatching(/^kafka: resume skipped/),
      expect.stringMatching(/^kafka: seek to offset 42 skipped/),
    ]);
  });

  it('still throws any other refusal', () => {
    const controls = consumerControls(stoppedConsumer(), recordingLogger([]));
    expect(() => controls.seek({ topic: 'orders', partition: Number.NaN }, 1)).toThrow('Invalid partition');
  });
});

describe('routeLog', () => {
  it('sends kafkajs lines to the Herald logger at their level, and routine rebalance errors to debug', () => {
    const lines: [string, string, Record<string, unknown> | undefined][] = [];
    const logger: Logger = {
      debug: (m, f) => lines.push(['debug', m, f]),
      info: (m, f) => lines.push(['info', m, f]),
      warn: (m, f) => lines.push(['warn', m, f]),
      error: (m, f) => lines.push(['error', m, f]),
      child: () => logger,
    };
    const route = routeLog(logger);
    route({ namespace: 'Consumer', level: logLevel.WARN, label: 'WARN', log: { timestamp: 't', message: 'slow', groupId: 'g' } });
    route({ namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: 't', message: 'Response Heartbeat', error: 'The group is rebalancing, so a rejoin is needed' } });
    route({ namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: 't', message: 'Connection error', error: 'ECONNREFUSED' } });
    expect(lines).toEqual([
      ['warn', 'slow', { namespace: 'Consumer', groupId: 'g' }],
      ['debug', 'Response Heartbeat', { namespace: 'Connection', error: 'The group is rebalancing, so a rejoin is needed' }],
      ['error', 'Connection error', { namespace: 'Connection', error: 'ECONNREFUSED' }],
    ]);
  });
});

describe('startKafkaMock', () => {
  it('reads the bootstrap servers only from a complete "replaced with" line', () => {
    const line = '%5|1|MOCK|rdkafka#consumer-1| [thrd:app]: Mock cluster enabled: original bootstrap.servers and security.protocol ignored and replaced with 127.0.0.1:4001,127.0.0.1:4002';
    expect(parseBootstrap(line)).toBeUndefined();
    expect(parseBootstrap(line + '\n')).toEqual(['127.0.0.1:4001', '127.0.0.1:4002']);
  });

  it('fails with the install command when kcat is missing', async () => {
    await expect(startKafkaMock({ kcatPath: 'kcat-that-is-not-installed' })).rejects.toThrow('apt-get install -y kcat');
  });
});
