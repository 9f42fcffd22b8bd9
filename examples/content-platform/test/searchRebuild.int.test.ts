import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canEnsureTopics, canInspect, type Broker } from '@herald/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { KEPT_FOR_EVER_MS, SEARCH_SOURCE_TOPICS } from '../src/events.js';
import { createContentPlatform, type ContentPlatform } from '../src/system.js';
import { ContentApi, eventually, sleep } from './support/client.js';

// Rebuilding the search index from the log (SEARCH_INDEX_GENERATION) on the embedded engine: the
// topics it reads keep every record, and a rebuild from a log that retention trimmed anyway (an
// operator's setting, a topic made before this) is refused, the old index kept.

const dir = mkdtempSync(join(tmpdir(), 'herald-content-platform-rebuild-'));
const env = { HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0', HERALD_RETRY_INITIAL_DELAY_MS: '10' };
let system: ContentPlatform | undefined;
let api: ContentApi;

async function start(generation: number): Promise<ContentPlatform> {
  const settings = { ...env, SEARCH_INDEX_GENERATION: String(generation) };
  const started = await createContentPlatform(loadConfig(settings, []), settings);
  const { url } = await started.start();
  api = new ContentApi(url!);
  return started;
}

/** The embedded log, with what the test needs of it: retention set per topic and swept now. */
function embeddedLog(broker: Broker) {
  const sweep = (broker as Broker & { sweepRetention?: () => Promise<number> }).sweepRetention;
  if (!canInspect(broker) || !canEnsureTopics(broker) || typeof sweep !== 'function') throw new Error('the embedded engine\'s broker is expected to be the SQLite log');
  return { broker, sweepRetention: () => sweep.call(broker) };
}

const posts: string[] = [];

beforeAll(async () => {
  system = await start(1);
  const author = await api.register('keeper');
  for (const word of ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot']) {
    posts.push((await api.ok<{ postId: string }>('POST', '/posts', 201, { authorId: author, title: `Kept ${word}`, content: word })).postId);
  }
  await eventually(async () => ((await api.search('kept', 'post')).length === posts.length ? true : undefined), 10_000, 'every post indexed');
}, 60_000);
afterAll(async () => {
  await system?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rebuilding the search index', () => {
  it('declares the topics search is built from as kept for ever', async () => {
    const { broker } = embeddedLog(system!.engine.broker);
    const topics = await broker.describeTopics(SEARCH_SOURCE_TOPICS);
    expect(topics.map((t) => t.name).sort()).toEqual([...SEARCH_SOURCE_TOPICS].sort());
    for (const topic of topics) expect({ topic: topic.name, retentionMs: topic.retentionMs }).toEqual({ topic: topic.name, retentionMs: KEPT_FOR_EVER_MS });
  });

  it('refuses a rebuild from a log retention has trimmed, and keeps the old index', async () => {
    // retention deletes the first records of post.created (as a topic left at the 7-day default
    // would, a week on)
    const log = embeddedLog(system!.engine.broker);
    await log.broker.ensureTopics([{ name: 'post.created', partitions: 3, retentionMs: 1 }]);
    await sleep(20);
    expect(await log.sweepRetention()).toBeGreaterThan(0);
    const [trimmed] = await log.broker.describeTopics(['post.created']);
    expect(trimmed!.partitions.some((p) => p.start > 0)).toBe(true);
    await system!.close();
    system = undefined;

    const refusal = await start(2).then(
      (rebuilding) => rebuilding.close().then(() => new Error('the rebuild started')),
      (error: unknown) => error as Error,
    );
    expect(refusal.message).toMatch(/SEARCH_INDEX_GENERATION=2 would rebuild the search index from a log that retention has trimmed \(post\.created\[\d\] starts at \d+/);

    system = await start(1);
    expect((await api.search('kept', 'post')).sort()).toEqual([...posts].sort());
  });
});
