import { describe, expect, it } from 'vitest';
import { EXIT_CODES, main } from '../src/index.js';
import { UNPRINTABLE, fakeIo, herald, memoryEngine } from './support.js';

// `herald replay` and `herald tail` against the in-memory engine, through `main` with a recording
// io: outputs, JSON, exit codes, confirmations. The real bin on the real engines is in cli.e2e.test.ts.

describe('herald replay', () => {
  it('is refused while the group has live members (exit 3) and moves a stopped group', async () => {
    const m = memoryEngine();
    await m.broker.publish([0, 1, 2].map((seq) => ({ topic: 'steps', key: 'k', value: String(seq) })));
    const sink = { deliver: async () => {}, revoked: async () => {} };
    const member = await m.broker.subscribe({ group: 'worker', topics: ['steps'] }, sink);
    await member.commit([0, 1].map((partition) => ({ topic: 'steps', partition, offset: m.broker.records('steps').filter((r) => r.partition === partition).length })));
    const refused = await herald(m.engine, ['replay', 'worker', '--to', 'earliest', '--yes']);
    expect(refused.code).toBe(EXIT_CODES.groupActive);
    expect(refused.stderr).toBe('herald: refused: group worker has live members (1); stop every member of the group, then replay (group-active)\n');
    await member.close();

    const replay = await herald(m.engine, ['replay', 'worker', '--to', 'earliest', '--yes', '--json']);
    expect(replay.code).toBe(0);
    const result = JSON.parse(replay.stdout) as { topics: string[]; partitions: { committed: number; lag: number }[] };
    expect(result.topics).toEqual(['steps']);
    expect(result.partitions.map((p) => p.committed)).toEqual([0, 0]);
    expect(result.partitions.reduce((sum, p) => sum + p.lag, 0)).toBe(3);
    expect((await herald(m.engine, ['replay', 'nobody', '--to', 'latest', '--yes'])).code).toBe(EXIT_CODES.nothingMatched);
    // mistyped names are refused before anything is written: no topic, no group comes to exist
    const typoTopic = await herald(m.engine, ['replay', 'worker', '--to', 'earliest', '--topic', 'stesp', '--yes']);
    expect([typoTopic.code, typoTopic.stderr]).toEqual([EXIT_CODES.nothingMatched, 'herald: no such topic: stesp (see herald topics) (nothing-matched)\n']);
    expect(await m.broker.describeTopics(['stesp'])).toEqual([]);
    const typoGroup = await herald(m.engine, ['replay', 'wroker', '--to', 'earliest', '--topic', 'steps', '--yes']);
    expect(typoGroup.code).toBe(EXIT_CODES.nothingMatched);
    expect(typoGroup.stderr).toContain('group wroker has never committed an offset');
    expect((await m.broker.describeGroup('wroker')).partitions).toEqual([]);
    // a group that has not run yet, named as such, gets its start position
    const fresh = await herald(m.engine, ['replay', 'auditor', '--to', 'earliest', '--topic', 'steps', '--new-group', '--yes']);
    expect(fresh.code).toBe(0);
    expect((await m.broker.describeGroup('auditor')).partitions.map((p) => p.committed)).toEqual([0, 0]);
    expect((await herald(m.engine, ['replay', 'worker', '--to', 'soon', '--yes'])).code).toBe(EXIT_CODES.usage);
    expect((await herald(m.engine, ['replay', 'worker'])).code, '--to is required').toBe(EXIT_CODES.usage);
  });
  it('refuses a group with live members that never committed (exit 3), not as a name that matches nothing', async () => {
    const m = memoryEngine();
    await m.broker.publish([{ topic: 'steps', key: 'k', value: '0' }]);
    // what Kafka answers for a group whose member joined and has not committed yet (the memory broker commits the start on joining)
    let members = 1;
    const broker = { ...m.broker, describeGroup: async (group: string) => ({ group, members, partitions: [], totalLag: 0 }) };
    const run = async (args: string[]) => {
      const fake = fakeIo();
      const code = await main(['replay', 'worker', '--to', 'earliest', ...args, '--yes'], fake.io, { open: async () => ({ ...m.engine, broker }) });
      return [code, fake.stderr()];
    };
    for (const args of [[], ['--new-group'], ['--topic', 'steps'], ['--topic', 'steps', '--new-group']]) {
      expect(await run(args), args.join(' ')).toEqual([EXIT_CODES.groupActive, 'herald: refused: group worker has live members (1); stop every member of the group, then replay (group-active)\n']);
    }
    // with no member left it is a group that never committed: a mistyped name unless named new, with its topics
    members = 0;
    expect(await run([])).toEqual([EXIT_CODES.nothingMatched, expect.stringContaining('group worker has never committed an offset')]);
    expect(await run(['--topic', 'steps'])).toEqual([EXIT_CODES.nothingMatched, expect.stringContaining('group worker has never committed an offset')]);
    expect(await m.broker.listGroups(), 'nothing was reset').toEqual([]);
  });
});

describe('herald replay, stopped', () => {
  it('stops between topics on Ctrl-C, naming the topics it reset, and exits 130', async () => {
    const m = memoryEngine();
    await m.broker.publish(['steps', 'audit'].map((topic) => ({ topic, key: 'k', value: '0' })));
    const member = await m.broker.subscribe({ group: 'worker', topics: ['steps', 'audit'] }, { deliver: async () => {}, revoked: async () => {} });
    await member.commit(['steps', 'audit'].flatMap((topic) => [0, 1].map((partition) => ({ topic, partition, offset: m.broker.records(topic).filter((r) => r.partition === partition).length }))));
    await member.close();
    const fake = fakeIo();
    const broker = {
      ...m.broker,
      async resetOffsets(reset: Parameters<typeof m.broker.resetOffsets>[0]) {
        await m.broker.resetOffsets(reset);
        fake.stop();
      },
    };
    const code = await main(['replay', 'worker', '--to', 'earliest', '--topic', 'steps', '--topic', 'audit', '--yes'], fake.io, { open: async () => ({ ...m.engine, broker }) });
    expect(code).toBe(EXIT_CODES.interrupted);
    expect(fake.stderr()).toBe('resetting: 1/2\nherald: stopped after 1/2 topic(s) reset (steps); re-run to reset the rest (interrupted)\n');
    const lag = (await m.broker.describeGroup('worker')).partitions.map((p) => [p.topic, p.lag]);
    expect(lag.filter(([topic]) => topic === 'audit').every(([, n]) => n === 0), 'audit was not reset').toBe(true);
    expect(lag.filter(([topic]) => topic === 'steps').reduce((sum, [, n]) => sum + Number(n), 0), 'steps was').toBe(1);
  });
});

describe('herald tail', () => {
  const envelope = (type: string, key: string, seq: number) =>
    JSON.stringify({ id: `0190a5b0-0000-7000-8000-${String(seq).padStart(12, '0')}`, type, version: 1, topic: 'steps', key, correlationId: 'c', causationId: null, occurredAt: '2025-06-01T12:00:00.000Z', headers: {}, data: { seq } });

  it('prints what a topic holds, filtered by key and type, as JSON lines, and reads without joining a group', async () => {
    const m = memoryEngine();
    await m.broker.publish([
      { topic: 'steps', key: 'a', value: envelope('Step', 'a', 0) },
      { topic: 'steps', key: 'b', value: envelope('Step', 'b', 1) },
      { topic: 'steps', key: 'a', value: envelope('Other', 'a', 2) },
      { topic: 'steps', key: 'a', value: 'not json' },
    ]);
    const json = await herald(m.engine, ['tail', 'steps', '--from', 'beginning', '--no-follow', '--key', 'a', '--type', 'Step', '--json']);
    expect(json.code).toBe(0);
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; event: { data: { seq: number } } });
    expect(lines.map((l) => [l.key, l.event.data.seq])).toEqual([['a', 0]]);
    const text = await herald(m.engine, ['tail', 'steps', '--from', 'beginning', '--no-follow', '--key', 'a']);
    expect(text.stdout).toMatch(/steps\/\d@0 {2}Step v1 {2}key=a {2}id=0190a5b0-0000-7000-8000-000000000000 {2}\{"seq":0\}\n/);
    expect(text.stdout).toContain('(not a Herald envelope) not json');
    expect(await m.broker.listGroups()).toEqual([]);
    expect((await herald(m.engine, ['tail', 'missing', '--no-follow', '--from', 'beginning'])).code).toBe(EXIT_CODES.nothingMatched);
  });

  it('prints one escaped line per record whatever its key, type and value hold, and exact JSON lines with --json', async () => {
    const m = memoryEngine();
    const key = 'k\x1b[2J\nFAKE';
    await m.broker.publish([
      { topic: 'steps', key, value: JSON.stringify({ ...JSON.parse(envelope('Step\u009b', key, 0)), data: { note: '\u2066x\x7f' } }) },
      { topic: 'steps', key, value: 'not json\x1b[31m\r' },
    ]);
    const text = await herald(m.engine, ['tail', 'steps', '--from', 'beginning', '--no-follow']);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.filter((line) => UNPRINTABLE.test(line))).toEqual([]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ {2}Step\\x9b v1 {2}key=k\\x1b\[2J\\nFAKE {2}id=\S+ {2}\{"note":"\\u2066x\\x7f"\}$/);
    expect(lines[1]).toMatch(/ {2}key=k\\x1b\[2J\\nFAKE {2}\(not a Herald envelope\) not json\\x1b\[31m$/);
    const json = (await herald(m.engine, ['tail', 'steps', '--from', 'beginning', '--no-follow', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value?: string });
    expect(json.map((l) => [l.key, l.value])).toEqual([
      [key, undefined],
      [key, 'not json\x1b[31m\r'],
    ]);
  });

  it('prints an error message escaped, whatever it quotes', async () => {
    const run = await herald(memoryEngine().engine, ['tail', 'x\x1b[2J\u202e', '--no-follow', '--from', 'beginning']);
    expect([run.code, run.stderr]).toEqual([EXIT_CODES.nothingMatched, 'herald: no topic named x\\x1b[2J\\u202e (nothing-matched)\n']);
  });

  it('refuses --no-follow from the end, which would print nothing by construction', async () => {
    const m = memoryEngine();
    await m.broker.publish([{ topic: 'steps', key: 'a', value: envelope('Step', 'a', 0) }]);
    for (const argv of [['tail', 'steps', '--no-follow'], ['tail', 'steps', '--no-follow', '--from', 'end']]) {
      const run = await herald(m.engine, argv);
      expect([run.code, run.stdout, run.stderr]).toEqual([
        EXIT_CODES.usage,
        '',
        'herald: --no-follow stops at the end offsets found at start, so from the end it would print nothing: add --from beginning (invalid-options)\n',
      ]);
    }
  });

  it('follows records appended after it started, until --limit, and stops cleanly on the stop signal', async () => {
    const m = memoryEngine();
    await m.broker.publish([{ topic: 'steps', key: 'a', value: envelope('Step', 'a', 0) }]);
    const fake = fakeIo();
    const tail = main(['tail', 'steps', '--limit', '2', '--poll-ms', '5', '--json'], fake.io, { open: async () => m.engine });
    // the end offsets are read before this line is printed: what is published after it is new
    while (!fake.stderr().includes('following')) await new Promise((resolve) => setTimeout(resolve, 5));
    await m.broker.publish([1, 2, 3].map((seq) => ({ topic: 'steps', key: 'a', value: envelope('Step', 'a', seq) })));
    expect(await tail).toBe(0);
    expect(fake.stderr()).toBe('following steps (2 partitions) from the end; Ctrl-C to stop\n');
    expect(fake.stdout().trim().split('\n').map((l) => (JSON.parse(l) as { event: { data: { seq: number } } }).event.data.seq)).toEqual([1, 2]);

    const stopped = fakeIo();
    const following = main(['tail', 'steps'], stopped.io, { open: async () => m.engine });
    while (!stopped.stderr().includes('following')) await new Promise((resolve) => setTimeout(resolve, 5));
    stopped.stop();
    expect(await following).toBe(0);
  });
});
