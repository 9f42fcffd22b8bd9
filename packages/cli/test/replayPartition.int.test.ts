import { describe, expect, it } from 'vitest';
import { CoreErrors, HeraldError } from '@herald/core';
import { EXIT_CODES, main } from '../src/index.js';
import { fakeIo, herald, memoryEngine } from './support.js';

// `replay` of one partition, to an exact offset (past a batch no consumer can read), and what a
// replay that fails part way says it already did.

/** Group `worker` with everything of `topics` (two partitions each) committed, and no member left. */
async function stoppedWorker(topics: readonly string[]) {
  const m = memoryEngine();
  await m.broker.publish(topics.flatMap((topic) => Array.from({ length: 8 }, (_, i) => ({ topic, key: `k${i}`, value: String(i) }))));
  const member = await m.broker.subscribe({ group: 'worker', topics: [...topics] }, { deliver: async () => {}, revoked: async () => {} });
  const ends = topics.flatMap((topic) => [0, 1].map((partition) => ({ topic, partition, offset: m.broker.records(topic).filter((r) => r.partition === partition).length })));
  await member.commit(ends);
  await member.close();
  return { m, ends };
}

const committed = async (m: ReturnType<typeof memoryEngine>) => (await m.broker.describeGroup('worker')).partitions.map((p) => [p.topic, p.partition, p.committed]);

describe('herald replay --partition', () => {
  it('moves one partition to an exact offset and leaves the others where they were', async () => {
    const { m, ends } = await stoppedWorker(['steps']);
    const end0 = ends[0]!.offset;
    expect(end0, 'partition 0 holds records to skip into').toBeGreaterThan(1);
    const run = await herald(m.engine, ['replay', 'worker', '--topic', 'steps', '--partition', '0', '--to', '1', '--yes', '--json']);
    expect([run.code, run.stderr]).toEqual([0, 'resetting: 1/1\n']);
    expect(JSON.parse(run.stdout)).toMatchObject({ group: 'worker', to: { offset: 1 }, topics: ['steps'], partition: 0, partitions: [{ partition: 0, committed: 1, lag: end0 - 1 }] });
    expect(await committed(m)).toEqual([
      ['steps', 0, 1],
      ['steps', 1, ends[1]!.offset],
    ]);
    // a start position for one partition too; the end itself is an offset one may move to
    expect((await herald(m.engine, ['replay', 'worker', '--topic', 'steps', '--partition', '1', '--to', 'earliest', '--yes'])).code).toBe(0);
    expect((await herald(m.engine, ['replay', 'worker', '--topic', 'steps', '--partition', '0', '--to', String(end0), '--yes'])).code).toBe(0);
    expect(await committed(m)).toEqual([
      ['steps', 0, end0],
      ['steps', 1, 0],
    ]);
  });

  it('refuses an offset without its partition, a partition without one topic, offsets outside the partition and times before 1970 (exit 2), moving nothing', async () => {
    const { m, ends } = await stoppedWorker(['steps', 'audit']);
    const before = await committed(m);
    const cases: [string[], string][] = [
      [['--topic', 'steps', '--to', '3'], '--to 3 is an offset, which belongs to one partition: add --topic <topic> --partition <n>'],
      [['--partition', '0', '--to', 'earliest'], '--partition needs exactly one --topic: the topic whose partition to reset'],
      [['--topic', 'steps', '--topic', 'audit', '--partition', '0', '--to', '1'], '--partition needs exactly one --topic: the topic whose partition to reset'],
      [['--topic', 'steps', '--partition', 'one', '--to', '1'], '--partition takes a partition number (0, 1, ...), got "one"'],
      [['--topic', 'steps', '--partition', '2', '--to', '1'], "memory broker: resetting group 'worker' on 'steps': the topic has 2 partition(s), 0..1; there is no partition 2"],
      [
        ['--topic', 'steps', '--partition', '0', '--to', String(ends[0]!.offset + 1)],
        `memory broker: resetting group 'worker' on 'steps': offset ${ends[0]!.offset + 1} is outside partition 0's records, 0..${ends[0]!.offset} (${ends[0]!.offset} is its end: read only what comes next)`,
      ],
      [['--to', '1969-12-31T23:59:59Z'], '--to 1969-12-31T23:59:59Z is before 1970-01-01T00:00:00Z; use earliest'],
    ];
    for (const [args, message] of cases) {
      const run = await herald(m.engine, ['replay', 'worker', ...args, '--yes']);
      expect([run.code, run.stderr], args.join(' ')).toEqual([EXIT_CODES.usage, `herald: ${message} (invalid-options)\n`]);
    }
    expect(await committed(m)).toEqual(before);
  });
});

describe('herald replay, failing part way', () => {
  async function failingOnSecondTopic(failure: Error) {
    const { m } = await stoppedWorker(['steps', 'audit']);
    const fake = fakeIo();
    let calls = 0;
    const broker = {
      ...m.broker,
      async resetOffsets(reset: Parameters<typeof m.broker.resetOffsets>[0]) {
        if (++calls === 2) throw failure;
        await m.broker.resetOffsets(reset);
      },
    };
    const code = await main(['replay', 'worker', '--to', 'earliest', '--topic', 'steps', '--topic', 'audit', '--yes'], fake.io, { open: async () => ({ ...m.engine, broker }) });
    return { code, stderr: fake.stderr(), lag: (await m.broker.describeGroup('worker')).partitions.map((p) => [p.topic, p.lag]) };
  }

  it('says which topics it had reset when a member started in between (exit 3 is then not "nothing changed")', async () => {
    const result = await failingOnSecondTopic(new HeraldError(CoreErrors.groupActive, 'memory broker: group worker has 1 live members'));
    expect(result.code).toBe(EXIT_CODES.groupActive);
    expect(result.stderr).toBe(
      'resetting: 1/2\nherald: refused part way: steps (1/2) already reset, then group worker has live members; stop every member of the group, then replay (group-active)\n',
    );
    expect(result.lag.filter(([topic]) => topic === 'steps').some(([, n]) => Number(n) > 0), 'steps was reset').toBe(true);
  });

  it('says which topics it had reset before another failure', async () => {
    const result = await failingOnSecondTopic(new Error('connection lost'));
    expect(result.code).toBe(EXIT_CODES.failure);
    expect(result.stderr).toContain('herald: steps (1/2) already reset when resetting audit failed; re-run to reset the rest\n');
    expect(result.stderr).toContain('connection lost');
  });
});

describe('herald replay of a group that never committed, without --topic', () => {
  it('says first that there is no such group (exit 4), and how to start a new one', async () => {
    const m = memoryEngine();
    const run = await herald(m.engine, ['replay', 'nogroup', '--to', 'earliest', '--yes']);
    expect([run.code, run.stderr]).toEqual([
      EXIT_CODES.nothingMatched,
      'herald: group nogroup has never committed an offset: no such group (see herald groups), or, to set where a group that has not run yet starts, name its topics with --topic and add --new-group (nothing-matched)\n',
    ]);
  });
});
