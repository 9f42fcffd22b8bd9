import { describe, expect, it } from 'vitest';
import { CoreErrors, HeraldError, uuidv7 } from '@herald/core';
import { main } from '../src/index.js';
import { fakeIo, memoryEngine } from './support.js';

// `herald tail` following through an outage of its broker (a Kafka broker restarting): the
// in-memory engine, whose reads fail with the adapters' retriable `broker-unavailable` while `down`.

const step = (seq: number) =>
  JSON.stringify({ id: uuidv7(), type: 'Step', version: 1, topic: 'steps', key: 'a', correlationId: 'c', causationId: null, occurredAt: '2025-06-01T12:00:00.000Z', headers: {}, data: { seq } });
const until = async (ready: () => boolean) => {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('herald tail through a broker outage', () => {
  it('says so once, waits, and resumes where it stopped: nothing missed, nothing printed twice', async () => {
    const m = memoryEngine();
    let down = false;
    let refused = 0;
    const unavailable = () => {
      refused++;
      return Promise.reject(new HeraldError(CoreErrors.brokerUnavailable, 'kafka: connecting the admin client failed'));
    };
    const broker = Object.assign(Object.create(m.broker) as typeof m.broker, {
      describeTopics: (topics?: readonly string[]) => (down ? unavailable() : m.broker.describeTopics(topics)),
      read: (range: Parameters<typeof m.broker.read>[0]) => (down ? unavailable() : m.broker.read(range)),
    });
    await m.broker.publish([{ topic: 'steps', key: 'a', value: step(0) }]);
    const fake = fakeIo();
    const tail = main(['tail', 'steps', '--limit', '4', '--poll-ms', '5', '--json'], fake.io, { open: async () => ({ ...m.engine, broker }) });
    let ended = false;
    void tail.finally(() => (ended = true));
    const seqs = () => fake.stdout().trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { event: { data: { seq: number } } }).event.data.seq);
    await until(() => fake.stderr().includes('following'));
    await m.broker.publish([1, 2].map((seq) => ({ topic: 'steps', key: 'a', value: step(seq) })));
    await until(() => seqs().length === 2);

    down = true;
    await m.broker.publish([3, 4].map((seq) => ({ topic: 'steps', key: 'a', value: step(seq) })));
    await until(() => refused >= 2 || ended);
    down = false;

    expect(await tail).toBe(0);
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(fake.stderr()).toBe(
      'following steps (2 partitions) from the end; Ctrl-C to stop\n' +
        'herald: kafka: connecting the admin client failed (broker-unavailable); retrying until it answers, Ctrl-C to stop\n' +
        'herald: reading steps again\n',
    );
  });
});
