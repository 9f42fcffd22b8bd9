import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linesWithMessage } from '@herald/testing/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentApi, eventually } from './support/client.js';
import { contentProcesses } from './support/processes.js';
import { cast, expectFollowersTold, expectIndexed, writePosts, type Cast, type PostOutcome } from './support/scenario.js';

// Seed 002 as separate processes on one embedded data directory: the api, content, comment,
// search and notification. The relay drops 20% of its publishes and "loses" 5% of its acks
// (duplicates). The ADR's success criteria: no event lost, and one consumer's fall breaks no other.

const dir = mkdtempSync(join(tmpdir(), 'herald-content-platform-services-'));
const processes = contentProcesses({ HERALD_DATA_DIR: dir, HERALD_CHAOS_RATE: '0.2', HERALD_CHAOS_AFTER_ACCEPT_RATE: '0.05' });
let api: ContentApi;
let who: Cast;
const posts: PostOutcome[] = [];

beforeAll(async () => {
  // the api first: it creates the tables; the consumers then start together
  await processes.start('api', 'api');
  await Promise.all([processes.start('content', 'content'), processes.start('comment', 'comment'), processes.start('search', 'search'), processes.start('notification', 'notification')]);
  api = new ContentApi(processes.url('api'));
  who = await cast(api, 's');
}, 180_000);
afterAll(async () => {
  await processes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('content-platform as separate processes with relay chaos', () => {
  it('keeps publishing and notifying while search is SIGKILLed mid-run, and search catches up on everything once back', async () => {
    const progress = { done: 0 };
    const writing = writePosts(() => api, who, { prefix: 's', count: 30, concurrency: 4, progress });
    await eventually(() => (progress.done >= 8 ? true : undefined), 60_000, 'a third of the posts');
    await processes.crash('search');
    posts.push(...(await writing));

    // every post was answered 201 with search down, and notification followed all of them
    await expectFollowersTold(() => api, who, posts);
    expect((await api.call('GET', '/search?q=anything')).status).toBe(200);

    await processes.restart('search');
    await expectIndexed(() => api, posts);
  }, 240_000);

  it("carries a request's correlation id to the lines of the services its events reach", async () => {
    const reply = await api.call<{ postId: string }>('POST', '/posts', {
      body: { authorId: who.authors[0], artistId: who.artistId, title: 'Correlated swcorr', content: 'x' },
      headers: { 'x-correlation-id': 'request-5678' },
    });
    expect(reply).toMatchObject({ status: 201, correlationId: 'request-5678' });
    posts.push({ postId: reply.body.postId, authorId: who.authors[0]!, word: 'swcorr', goneWords: [], deleted: false });
    await expectIndexed(() => api, posts.slice(-1));
    const lines = (name: string, msg: string) => linesWithMessage(processes.lines(name), msg).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines('api', 'published').filter((l) => l['correlationId'] === 'request-5678')).toEqual([expect.objectContaining({ event: 'post.created', status: 'published', postId: reply.body.postId })]);
    expect(lines('search', 'indexed').filter((l) => l['correlationId'] === 'request-5678')).toEqual([
      expect.objectContaining({ group: 'search-indexer', eventType: 'PostCreated', status: 'indexed', docId: reply.body.postId }),
    ]);
    await eventually(() => lines('notification', 'notified').find((l) => l['correlationId'] === 'request-5678'), 30_000, 'the notification line');
  }, 180_000);

  it('rebuilds the search index from the log under a new generation, and refuses to go back to the old one', async () => {
    await processes.stop('search');
    const rebuilt = await processes.restart('search', { SEARCH_INDEX_GENERATION: '2' });
    expect(linesWithMessage(rebuilt.lines, 'search index emptied for a rebuild')).toHaveLength(1);
    await expectIndexed(() => api, posts);
    await processes.stop('search');
    await expect(processes.restart('search', { SEARCH_INDEX_GENERATION: '1' })).rejects.toThrow(/SEARCH_INDEX_GENERATION=1 is below the index's generation 2/);
    // generation 2 again: nothing emptied, nothing to do
    const again = await processes.restart('search', { SEARCH_INDEX_GENERATION: '2' });
    expect(linesWithMessage(again.lines, 'search index emptied for a rebuild')).toHaveLength(0);
    await expectIndexed(() => api, posts);
  }, 300_000);
});
