import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { canInspect, createApp, defineEvent, silentLogger, type Broker } from '@herald/core';
import { engineFromEnv } from '@herald/engine';
import { eventually, sleep } from '@herald/testing';
import { openFromEnv } from '../src/context.js';
import { fakeIo } from './support.js';

// The CLI opens the app's engine beside the app, so it must not run the engine's housekeeping
// with defaults of its own: a `tail` left following, or a prompt left open, past the sweep's
// interval would otherwise delete what the app keeps by its own retention.

const Note = defineEvent({ type: 'Note', topic: 'notes', key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
/** The log's retention sweep interval (packages/sqlite's `retentionCheckMs` default) and then some. */
const PAST_SWEEP_MS = 61_000;

async function firstRetained(broker: Broker): Promise<number> {
  if (!canInspect(broker)) throw new Error('the embedded broker inspects');
  const [topic] = await broker.describeTopics(['notes']);
  return topic!.partitions[0]!.start;
}

async function topicNames(broker: Broker): Promise<string[]> {
  if (!canInspect(broker)) throw new Error('the embedded broker inspects');
  return (await broker.describeTopics()).map((topic) => topic.name);
}

describe('the engine the CLI opens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-housekeeping-'));
  const env = { HERALD_DATA_DIR: join(dir, 'data') };
  afterEach(() => vi.useRealTimers());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sweeps no retention, where an engine opened with the defaults would', { timeout: 60_000 }, async () => {
    // a topic whose records expire at once: any sweep that runs deletes them
    const engine = await engineFromEnv(env, { logger: silentLogger });
    const app = createApp({ broker: engine.broker, stores: engine.stores, events: [Note], logger: silentLogger, topics: [{ name: 'notes', partitions: 1, retentionMs: 1 }] });
    await app.start();
    for (const id of ['a', 'b', 'c']) await app.publish(Note, { id });
    await eventually(
      async () => {
        if (!canInspect(engine.broker)) throw new Error('the embedded broker inspects');
        const [topic] = await engine.broker.describeTopics(['notes']);
        return topic?.partitions[0]?.end === 3 ? true : undefined;
      },
      10_000,
      'the relay to append the three notes',
    );
    await app.close();
    await sleep(5);

    // only setInterval is faked: the sweep itself runs on the real event loop
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const cli = await openFromEnv({ ...fakeIo().io, env });
    try {
      expect(await firstRetained(cli.broker)).toBe(0);
      // the file's only topic: the first step of a sweep, queued on the log's write queue the moment
      // its interval fires, deletes the expired notes
      expect(await topicNames(cli.broker)).toEqual(['notes']);
      vi.advanceTimersByTime(PAST_SWEEP_MS);
      // a write queued after that commits with it or after it: once the probe is in, a sweep would have deleted them
      await cli.broker.publish([{ topic: 'probes', key: 'probe', value: '{}' }]);
      expect(await firstRetained(cli.broker)).toBe(0);
    } finally {
      await cli.close();
    }

    // the same file opened with the engine's defaults sweeps: the check above could fail
    const defaults = await engineFromEnv(env, { logger: silentLogger });
    try {
      vi.advanceTimersByTime(PAST_SWEEP_MS);
      await eventually(async () => ((await firstRetained(defaults.broker)) === 3 ? true : undefined), 10_000, 'the default engine to sweep the expired notes');
    } finally {
      await defaults.close();
    }
  });
});
