import { describe, expect, it } from 'vitest';
import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { HeraldError, partitionForKey } from '@herald/core';
import { chunkBySize, createPublisher } from '../src/internal/publisher.js';

// The publisher's units: how records are chunked by size, and how a publish maps kafkajs's
// answers and failures (the whole adapter against the mock cluster is in kafkaBroker.int).

describe('chunkBySize', () => {
  const record = (i: number, size = 100) => ({ topic: 't', key: `k${i}`, value: 'x'.repeat(size) });

  it('keeps order and splits before a chunk would exceed the limit', () => {
    const records = Array.from({ length: 10 }, (_, i) => record(i));
    const chunks = chunkBySize(records, 400);
    expect(chunks.flat()).toEqual(records);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 2, 2, 2]);
  });

  it('sends a record larger than the limit on its own', () => {
    const chunks = chunkBySize([record(0, 10), record(1, 5000), record(2, 10)], 400);
    expect(chunks.map((c) => c.map((r) => r.key))).toEqual([['k0'], ['k1'], ['k2']]);
  });
});

describe('createPublisher', () => {
  type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: { key: string } }) => number;
  interface Settle {
    error?: Error;
    /** Partitions (`topic/partition`) to leave out of the returned metadata, as kafkajs#1303 does. */
    unacknowledged?: string[];
  }
  /**
   * A stand-in for kafkajs' producer: partitions each request's records with the adapter's
   * partitioner over `partitions` partitions (as kafkajs does), records the request, and lets the
   * test settle it; settling resolves with one RecordMetadata per partition written.
   */
  function fakeKafka(partitions = 4) {
    const requests: { keys: string[]; partitions: string[]; settle: (how?: Error | Settle) => void }[] = [];
    let arrived: (() => void) | undefined;
    let partitioner: Partitioner | undefined;
    const producer = {
      connect: async () => {},
      disconnect: async () => {},
      sendBatch: ({ topicMessages }: { topicMessages: { topic: string; messages: { key: string }[] }[] }) =>
        new Promise((resolve, reject) => {
          const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId }));
          const written = new Set(topicMessages.flatMap(({ topic, messages }) => messages.map((message) => `${topic}/${partitioner!({ topic, partitionMetadata, message })}`)));
          const settle = (how?: Error | Settle) => {
            const { error, unacknowledged = [] } = how instanceof Error ? { error: how } : (how ?? {});
            if (error) return reject(error);
            resolve(
              [...written]
                .filter((tp) => !unacknowledged.includes(tp))
                .map((tp) => ({ topicName: tp.split('/')[0]!, partition: Number(tp.split('/')[1]), errorCode: 0, baseOffset: '0' })),
            );
          };
          requests.push({ keys: topicMessages.flatMap((t) => t.messages.map((m) => m.key)), partitions: [...written].sort(), settle });
          arrived?.();
        }),
    };
    const next = async (count: number) => {
      while (requests.length < count) await new Promise<void>((resolve) => (arrived = resolve));
      return requests[count - 1]!;
    };
    const kafka = {
      producer: (config: { createPartitioner: () => Partitioner }) => {
        partitioner = config.createPartitioner();
        return producer;
      },
    };
    return { kafka: kafka as never, requests, next };
  }
  const options = { compression: 'none', retries: 0, requestTimeoutMs: 1000, maxRequestBytes: 400 } as const;
  const record = (key: string) => ({ topic: 't', key, value: 'x'.repeat(100) });
  const state = (promise: Promise<void>) => {
    const seen = { value: 'pending' as string };
    promise.then(() => (seen.value = 'resolved'), (e: Error) => (seen.value = `rejected: ${e.message}`));
    return seen;
  };
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('coalesces calls made while a send is in flight into the next send, in call order', async () => {
    const { kafka, next } = fakeKafka();
    const publisher = createPublisher(kafka, { ...options, maxRequestBytes: 10_000 });
    const first = state(publisher.publish([record('a')]));
    const firstRequest = await next(1);
    const later = ['b', 'c', 'd'].map((key) => state(publisher.publish([record(key)])));
    await turn();
    expect(later.map((s) => s.value)).toEqual(['pending', 'pending', 'pending']);
    firstRequest.settle();
    const second = await next(2);
    expect(second.keys).toEqual(['b', 'c', 'd']); // three calls, one produce request
    await turn();
    expect(first.value).toBe('resolved');
    expect(later.map((s) => s.value)).toEqual(['pending', 'pending', 'pending']);
    second.settle();
    await turn();
    expect(later.map((s) => s.value)).toEqual(['resolved', 'resolved', 'resolved']);
  });

  it('rejects only the calls whose records were in or after a failed chunk', async () => {
    const { kafka, next } = fakeKafka();
    const publisher = createPublisher(kafka, options);
    const blocker = state(publisher.publish([record('z')]));
    const blocking = await next(1);
    // queued together: chunks of two records (400 bytes): [a1 a2] [b1 c1] [c2]
    const a = state(publisher.publish([record('a1'), record('a2')]));
    const b = state(publisher.publish([record('b1')]));
    const c = state(publisher.publish([record('c1'), record('c2')]));
    blocking.settle();
    (await next(2)).settle();
    (await next(3)).settle(new Error('broker went away'));
    await turn();
    expect(blocker.value).toBe('resolved');
    expect(a.value).toBe('resolved');
    expect(b.value).toMatch(/^rejected/);
    expect(c.value).toMatch(/^rejected/);
  });

  /** What kafkajs 2.2.4's producer throws when the broker refuses a record as too large (MESSAGE_TOO_LARGE, code 10). */
  const tooLarge = () => {
    const refusal = new KafkaJSProtocolError(Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false }));
    return Object.assign(new KafkaJSNonRetriableError(refusal), { cause: refusal }); // as its retrier wraps it
  };
  /** How a publish call ended: `resolved`, or the HeraldError's code and retriability. */
  const outcome = (promise: Promise<void>) => {
    const seen = { value: 'pending' };
    promise.then(() => (seen.value = 'resolved'), (e: HeraldError) => (seen.value = `${e.code}${e.retriable ? ' (retriable)' : ''}`));
    return seen;
  };

  it('gives a refusal for good only to the call whose record the broker refuses, sending the calls coalesced with it again alone', async () => {
    const { kafka, next } = fakeKafka();
    const publisher = createPublisher(kafka, { ...options, maxRequestBytes: 10_000 });
    const blocker = outcome(publisher.publish([record('z')]));
    const blocking = await next(1);
    const calls = ['a', 'too-big', 'c'].map((key) => outcome(publisher.publish([record(key)])));
    blocking.settle();
    const together = await next(2);
    expect(together.keys).toEqual(['a', 'too-big', 'c']);
    together.settle(tooLarge());
    // each call's part again, one request at a time
    const alone: string[][] = [];
    for (const [n, refuse] of [[3, false], [4, true], [5, false]] as const) {
      const request = await next(n);
      alone.push(request.keys);
      request.settle(refuse ? tooLarge() : undefined);
    }
    await turn();
    expect(alone).toEqual([['a'], ['too-big'], ['c']]);
    expect(blocker.value).toBe('resolved');
    expect(calls.map((c) => c.value)).toEqual(['resolved', 'event-too-large', 'resolved']);
  });

  it('after a refusal for good, skips the rest of the refused call and still sends the later chunks; a retriable failure rejects all that is left, retriable', async () => {
    const { kafka, next } = fakeKafka();
    const publisher = createPublisher(kafka, options);
    const blocker = outcome(publisher.publish([record('z')]));
    const blocking = await next(1);
    // chunks of two records (400 bytes): [big1 big2] [big3 d1] [e1 e2] [f1]
    const big = outcome(publisher.publish([record('big1'), record('big2'), record('big3')]));
    const d = outcome(publisher.publish([record('d1')]));
    const e = outcome(publisher.publish([record('e1'), record('e2')]));
    const f = outcome(publisher.publish([record('f1')]));
    blocking.settle();
    (await next(2)).settle(tooLarge()); // one call's records only: refused without a resend
    const third = await next(3);
    expect(third.keys).toEqual(['d1']); // big3 is not sent
    third.settle();
    (await next(4)).settle(new Error('broker went away'));
    await turn();
    expect([blocker, big, d, e, f].map((c) => c.value)).toEqual(['resolved', 'event-too-large', 'resolved', 'broker-unavailable (retriable)', 'broker-unavailable (retriable)']);
  });

  it('refuses only the call publishing to a topic the client may not write to, naming the topic; the call coalesced with it goes out', async () => {
    const { kafka, next } = fakeKafka();
    const publisher = createPublisher(kafka, { ...options, maxRequestBytes: 10_000 });
    const blocker = outcome(publisher.publish([record('z')]));
    const blocking = await next(1);
    const forbidden = publisher.publish([{ topic: 'payroll', key: 'p', value: 'x' }]);
    const allowed = outcome(publisher.publish([record('a')]));
    const forbiddenOutcome = outcome(forbidden);
    blocking.settle();
    const notAuthorized = () => {
      const refusal = new KafkaJSProtocolError(Object.assign(new Error('Not authorized to access topics: [Topic authorization failed]'), { type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, retriable: false }));
      return Object.assign(new KafkaJSNonRetriableError(refusal), { cause: refusal });
    };
    (await next(2)).settle(notAuthorized());
    (await next(3)).settle(notAuthorized()); // payroll's record alone
    (await next(4)).settle(); // the other call's alone
    await turn();
    expect([blocker.value, forbiddenOutcome.value, allowed.value]).toEqual(['resolved', 'topic-not-authorized', 'resolved']);
    await expect(forbidden).rejects.toThrow("publishing 1 records to 'payroll' failed");
  });

  it('rejects, retriable and naming them, records of a partition the client resolved without an acknowledgement for', async () => {
    const { kafka, next } = fakeKafka(4);
    const publisher = createPublisher(kafka, { ...options, maxRequestBytes: 10_000 });
    const records = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((key) => ({ topic: 'orders', key, value: 'x' }));
    const expected = [...new Set(records.map((r) => `orders/${partitionForKey(r.key, 4)}`))].sort();
    const published = publisher.publish(records);
    const request = await next(1);
    expect(request.partitions).toEqual(expected); // the records span several partitions
    const dropped = request.partitions[1]!;
    request.settle({ unacknowledged: [dropped] });
    const error = await published.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldError);
    expect(error).toMatchObject({ code: 'broker-unavailable', retriable: true, details: { unacknowledged: [{ topic: 'orders', partitions: [Number(dropped.split('/')[1])] }] } });
    expect((error as Error).message).toContain(`'orders' partitions ${dropped.split('/')[1]}`);

    // the same records, every partition acknowledged: the call resolves
    const again = publisher.publish(records);
    (await next(2)).settle();
    await expect(again).resolves.toBeUndefined();
  });

  it('rejects the calls with records in or after a chunk lacking an acknowledgement, not those before', async () => {
    const { kafka, next } = fakeKafka(4);
    const publisher = createPublisher(kafka, options);
    const blocker = state(publisher.publish([record('z')]));
    const blocking = await next(1);
    // chunks of two records: [a1 a2] [b1 c1]
    const a = state(publisher.publish([record('a1'), record('a2')]));
    const b = state(publisher.publish([record('b1')]));
    const c = state(publisher.publish([record('c1')]));
    blocking.settle();
    (await next(2)).settle();
    const third = await next(3);
    third.settle({ unacknowledged: [`t/${partitionForKey('c1', 4)}`] });
    await turn();
    expect(blocker.value).toBe('resolved');
    expect(a.value).toBe('resolved');
    expect(b.value).toMatch(/^rejected: .*no acknowledgement came for 't' partitions/);
    expect(c.value).toMatch(/^rejected: .*no acknowledgement came for 't' partitions/);
  });
});
