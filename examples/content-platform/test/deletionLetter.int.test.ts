import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExposition } from '@herald/metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELETED_COMMENTABLE_AGE_METRIC, DELETED_COMMENTABLE_METRIC } from '../src/businessMetrics.js';
import { loadConfig } from '../src/config.js';
import { GROUPS, PostDeleted } from '../src/events.js';
import { createContentPlatform, type ContentPlatform } from '../src/system.js';
import { ContentApi, eventually } from './support/client.js';

// Comment's PostDeleted dead-lettered, on the embedded engine (a real SQLite file): a trigger
// refuses comment's copy of the post its deletion (as a store failure would). The deleted post
// keeps its comments and takes new ones (201) until someone redrives the letter, and the
// dead-letter alert stops once the letter is 10 minutes old; the gauges say so until then.

const dir = mkdtempSync(join(tmpdir(), 'herald-content-platform-deletion-'));
const env = { HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0', HERALD_RETRY_MAX_ATTEMPTS: '2', HERALD_RETRY_INITIAL_DELAY_MS: '10' };
let system: ContentPlatform;
let api: ContentApi;

beforeAll(async () => {
  system = await createContentPlatform(loadConfig(env, []), env);
  const { url } = await system.start();
  api = new ContentApi(url!);
}, 60_000);
afterAll(async () => {
  await system?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gauges(): Promise<{ posts: number | undefined; age: number | undefined }> {
  const samples = parseExposition(await fetch(`${api.baseUrl}/metrics`).then((r) => r.text()));
  return { posts: samples.find((s) => s.name === DELETED_COMMENTABLE_METRIC)?.value, age: samples.find((s) => s.name === DELETED_COMMENTABLE_AGE_METRIC)?.value };
}

describe('a post whose deletion comment dead-lettered', () => {
  it('is reported still commentable by the gauges until the letter is redriven, then its comments go', async () => {
    const [dora, eve] = [await api.register('dora'), await api.register('eve')];
    const { postId } = await api.ok<{ postId: string }>('POST', '/posts', 201, { authorId: dora, title: 'Перемен', content: 'a song of 1986' });
    const comment = (text: string) => api.call('POST', `/posts/${postId}/comments`, { body: { authorId: eve, text } });
    await eventually(async () => ((await comment('first')).status === 201 ? true : undefined), 10_000, "the post in comment's copy");
    expect(await gauges()).toEqual({ posts: 0, age: 0 });

    await system.app.transaction((tx) =>
      tx.execute("CREATE TRIGGER refuse_deletion BEFORE UPDATE OF deleted ON comment_posts WHEN NEW.deleted = 1 BEGIN SELECT RAISE(ABORT, 'deletion refused'); END", []),
    );
    await api.ok('DELETE', `/posts/${postId}`, 200);
    const letter = await eventually(async () => (await system.app.deadLetters({ group: GROUPS.comment })).find((l) => l.eventType === PostDeleted.type), 10_000, "comment's letter of the deletion");
    expect(letter).toMatchObject({ status: 'dead' });

    // deleted, yet commentable: the gauges see it, from the deletion on
    expect((await comment('after the deletion')).status).toBe(201);
    const [deleted] = await system.app.transaction((tx) => tx.query<{ updated_at: number }>('SELECT updated_at FROM content_posts WHERE post_id = $1 AND deleted = 1', [postId]));
    const stuck = await gauges();
    expect(stuck.posts).toBe(1);
    expect(stuck.age).toBeGreaterThan(0);
    expect(stuck.age! * 1000).toBeLessThanOrEqual(system.app.clock.now() - Number(deleted!.updated_at) + 1);

    // the cause fixed and the letter redriven: the comments go, the post takes none, nothing is reported
    await system.app.transaction((tx) => tx.execute('DROP TRIGGER refuse_deletion', []));
    expect(await system.app.redrive({ group: GROUPS.comment, ids: [letter.id] })).toMatchObject({ redriven: 1, failed: 0 });
    await eventually(async () => ((await gauges()).posts === 0 ? true : undefined), 10_000, 'the deletion applied');
    expect(await gauges()).toEqual({ posts: 0, age: 0 });
    expect((await api.call<{ comments: unknown[] }>('GET', `/posts/${postId}/comments`)).body.comments).toEqual([]);
    expect((await comment('too late')).status).toBe(404);
  }, 60_000);
});
