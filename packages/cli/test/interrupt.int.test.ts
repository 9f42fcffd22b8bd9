import { describe, expect, it } from 'vitest';
import { EXIT_CODES, main, type CliEngine } from '../src/index.js';
import { fakeIo, letter, memoryEngine } from './support.js';

// Ctrl-C while the engine opens and during the read-only commands: they change nothing, so they
// stop at once (exit 130) instead of waiting for a broker or database that does not answer, and
// the engine is still closed, once it opens.

const never = new Promise<never>(() => {});

/** Runs `herald <argv>` on `open`, sending the stop signal once `ready` resolves. */
async function stoppedRun(argv: readonly string[], open: () => Promise<CliEngine>, ready: Promise<unknown>) {
  const fake = fakeIo();
  let abandoned = 0;
  const io = { ...fake.io, abandon: () => void abandoned++ };
  const run = main(argv, io, { open });
  await ready;
  const stoppedAt = Date.now();
  fake.stop();
  const code = await run;
  return { code, stderr: fake.stderr(), stdout: fake.stdout(), ms: Date.now() - stoppedAt, abandoned: () => abandoned };
}

function signalled() {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

describe('herald stopped while it opens the engine or reads', () => {
  it('stops while the engine opens, and closes the engine once it has opened', async () => {
    const m = memoryEngine();
    let closed = false;
    const opening = signalled();
    let finishOpen!: (engine: CliEngine) => void;
    const open = () => (opening.fire(), new Promise<CliEngine>((resolve) => (finishOpen = resolve)));
    const run = await stoppedRun(['dlq', 'list'], open, opening.promise);
    expect([run.code, run.stdout, run.stderr]).toEqual([EXIT_CODES.interrupted, '', 'herald: stopped while opening the engine; nothing was changed (interrupted)\n']);
    expect(run.abandoned()).toBe(1);
    finishOpen({ ...m.engine, close: async () => void (closed = true) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });

  it('stops each read-only command whose read does not answer, and closes the engine', async () => {
    const reads: [string[], string][] = [
      [['topics'], 'topics'],
      [['groups'], 'consumer groups'],
      [['lag', 'worker'], 'consumer groups'],
      [['outbox'], 'the outbox backlog'],
      [['dlq', 'list'], 'dead letters'],
      [['dlq', 'groups'], 'dead letters'],
    ];
    for (const [argv, what] of reads) {
      const m = memoryEngine();
      const reading = signalled();
      const hang = () => (reading.fire(), never);
      const broker = { ...m.broker, describeTopics: hang, listGroups: hang, describeGroup: hang };
      const stores = { ...m.stores, outbox: { ...m.stores.outbox, backlog: hang }, deadLetters: { ...m.stores.deadLetters, page: hang, groups: hang } };
      let closed = false;
      const engine = { ...m.engine, broker, stores, close: async () => void (closed = true) };
      const run = await stoppedRun(argv, async () => engine, reading.promise);
      expect([argv, run.code, run.stderr]).toEqual([argv, EXIT_CODES.interrupted, `herald: stopped while reading ${what}; nothing was changed (interrupted)\n`]);
      expect([argv, closed, run.abandoned()]).toEqual([argv, true, 0]);
    }
  });

  it('waits about a second for a close that does not end after a stop, then leaves it to the process', async () => {
    const m = memoryEngine();
    const reading = signalled();
    const broker = { ...m.broker, describeTopics: () => (reading.fire(), never) };
    const run = await stoppedRun(['topics'], async () => ({ ...m.engine, broker, close: () => never }), reading.promise);
    expect(run.code).toBe(EXIT_CODES.interrupted);
    expect(run.abandoned()).toBe(1);
    expect(run.ms).toBeGreaterThanOrEqual(900);
    expect(run.ms).toBeLessThan(2500);
  });

  it('lets a discard finish its chunk and say how far it got: its store calls are not cut short', async () => {
    const m = memoryEngine();
    for (const l of Array.from({ length: 3 }, (_, i) => letter({ key: `k${i}` }))) await m.stores.deadLetters.add(l);
    const fake = fakeIo();
    const deadLetters = {
      ...m.stores.deadLetters,
      async discard(ids: readonly string[]) {
        fake.stop();
        await new Promise((resolve) => setTimeout(resolve, 20));
        return m.stores.deadLetters.discard(ids);
      },
    };
    const code = await main(['dlq', 'discard', '--all', '--yes'], fake.io, { open: async () => ({ ...m.engine, stores: { ...m.stores, deadLetters } }) });
    expect([code, fake.stdout()]).toEqual([0, 'discarded 3 dead letter(s)\n']);
  });
});
