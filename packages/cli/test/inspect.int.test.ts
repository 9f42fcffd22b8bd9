import { describe, expect, it } from 'vitest';
import type { GroupDescription } from '@herald/core';
import { EXIT_CODES, main } from '../src/index.js';
import { fakeIo, herald, memoryEngine } from './support.js';

// `herald topics`, `groups`, `lag`, `outbox`, usage and failures against the in-memory engine, through `main` with a recording
// io: outputs, JSON, exit codes, confirmations. The real bin on the real engines is in cli.e2e.test.ts.

describe('herald topics, groups, lag, outbox', () => {
  it('prints tables, and JSON with --json', async () => {
    const m = memoryEngine();
    await m.broker.publish([0, 1, 2].map((seq) => ({ topic: 'steps', key: `k${seq}`, value: String(seq) })));
    const member = await m.broker.subscribe({ group: 'worker', topics: ['steps'] }, { deliver: async () => {}, revoked: async () => {} });
    await member.commit([{ topic: 'steps', partition: 0, offset: 1 }]);

    const topics = await herald(m.engine, ['topics']);
    expect(topics.stdout.split('\n')[0]).toMatch(/^TOPIC\s+PARTITION\s+START\s+END\s+RECORDS\s+RETENTION\s+RETENTION BYTES$/);
    expect(JSON.parse((await herald(m.engine, ['topics', 'steps', '--json'])).stdout)).toEqual(await m.broker.describeTopics(['steps']));
    const missing = await herald(m.engine, ['topics', 'steps', 'stesp']);
    expect([missing.code, missing.stderr]).toEqual([EXIT_CODES.nothingMatched, 'herald: no such topic: stesp (nothing-matched)\n']);
    expect((await herald(m.engine, ['groups'])).stdout).toMatch(/^GROUP\s+MEMBERS\s+TOPICS\s+LAG\nworker\s+1\s+1\s+\d+\n$/);
    expect(JSON.parse((await herald(m.engine, ['lag', 'worker', '--json'])).stdout)).toEqual([await m.broker.describeGroup('worker')]);
    expect((await herald(m.engine, ['lag', 'nobody'])).code).toBe(EXIT_CODES.nothingMatched);
    await member.close();

    // a group stuck before its first commit: --topic names what it reads, every partition listed
    const stuck = await herald(m.engine, ['lag', 'nobody', '--topic', 'steps', '--json']);
    expect(JSON.parse(stuck.stdout)).toEqual([await m.broker.describeGroup('nobody', { topics: ['steps'] })]);
    expect((JSON.parse(stuck.stdout) as GroupDescription[])[0]).toMatchObject({ totalLag: 3, partitions: [{ partition: 0, committed: null }, { partition: 1, committed: null }] });
    expect((await herald(m.engine, ['lag', 'nobody', '--topic', 'steps'])).stdout).toMatch(/^GROUP\s+TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG\nnobody\s+steps\s+0\s+-\s+\d+\s+\d+\nnobody\s+steps\s+1\s+-/);
    const typo = await herald(m.engine, ['lag', 'nobody', '--topic', 'stesp']);
    expect([typo.code, typo.stderr]).toEqual([EXIT_CODES.nothingMatched, 'herald: no such topic: stesp (nothing-matched)\n']);
    expect((await herald(m.engine, ['lag', '--topic', 'steps'])).code).toBe(EXIT_CODES.usage);

    expect((await herald(m.engine, ['outbox'])).stdout).toBe('outbox empty: everything committed was relayed\n');
    await m.stores.transaction(async (tx) => {
      await m.stores.outbox.append(tx, [{ id: 'e1', topic: 'steps', key: 'k', type: 'Step', correlationId: 'e1', value: '{}', headers: {}, createdAt: Date.now() - 5000 }]);
    });
    const backlog = JSON.parse((await herald(m.engine, ['outbox', '--json'])).stdout) as { topic: string; pending: number; oldestAgeMs: number }[];
    expect(backlog).toMatchObject([{ topic: 'steps', pending: 1 }]);
    expect(backlog[0]!.oldestAgeMs).toBeGreaterThanOrEqual(5000);
  });

  it('exits 2 on a usage error and 0 on --help', async () => {
    const m = memoryEngine();
    expect((await herald(m.engine, ['bogus'])).code).toBe(EXIT_CODES.usage);
    const help = await herald(m.engine, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 ok, 1 failure, 2 usage');
  });
});

describe('herald, when what fails is no Error', () => {
  it('prints what was thrown and exits with failure, also for a value String() cannot print (no prototype)', async () => {
    const fake = fakeIo();
    const bare = Object.assign(Object.create(null) as object, { reason: 'driver gave up' });
    const code = await main(['topics'], fake.io, {
      open: async () => {
        throw bare;
      },
    });
    expect([code, fake.stderr()]).toEqual([EXIT_CODES.failure, 'herald: {"reason":"driver gave up"}\n']);
  });
});
