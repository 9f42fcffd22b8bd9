import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createContentPlatform, type ContentPlatform } from '../src/system.js';
import { ContentApi, eventually, type Reply } from './support/client.js';

// Edits of one post (and one artist) at once, on the embedded engine, whose concurrent transactions
// share one SQLite connection and see each other's writes: a row "lock" locks nothing there, so
// every edit must be one conditional statement. Each acknowledged change gets its own version, and
// search, content's cache and comment end in agreement with the row.

const dir = mkdtempSync(join(tmpdir(), 'herald-content-platform-concurrent-'));
const env = { HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0', HERALD_RETRY_INITIAL_DELAY_MS: '10' };
let system: ContentPlatform;
let api: ContentApi;
let author: string;

beforeAll(async () => {
  system = await createContentPlatform(loadConfig(env, []), env);
  const { url } = await system.start();
  api = new ContentApi(url!);
  author = await api.register('writer');
}, 60_000);
afterAll(async () => {
  await system?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Rows of the example's tables (the consumers' state), read in a transaction of their own. */
function rows<T>(sql: string, params: unknown[]): Promise<T[]> {
  return system.app.transaction((tx) => tx.query<T>(sql, params));
}

/** The versions the 200 answers among `replies` acknowledged. */
function acknowledged(replies: Reply<{ version?: number }>[]): number[] {
  return replies.filter((r) => r.status === 200).map((r) => r.body.version!);
}

async function newPost(word: string): Promise<string> {
  return (await api.ok<{ postId: string }>('POST', '/posts', 201, { authorId: author, title: `Post ${word}`, content: `first ${word}` })).postId;
}

describe('concurrent edits on the embedded engine', () => {
  it('gives each of 30 PATCHes of one post its own version, and search ends at the last', async () => {
    const postId = await newPost('racing');
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => api.call<{ version: number }>('PATCH', `/posts/${postId}`, { body: { content: `edit${i} of racing` } })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200));
    const versions = acknowledged(replies).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));

    const post = (await api.call<{ version: number; content: string }>('GET', `/posts/${postId}`)).body;
    expect(post.version).toBe(31);
    // the edit acknowledged with the last version is the one the row holds
    const last = replies.findIndex((r) => r.body.version === 31);
    expect(post.content).toBe(`edit${last} of racing`);
    const [indexed] = await eventually(async () => {
      const docs = await rows<{ version: number }>("SELECT version FROM search_documents WHERE kind = 'post' AND doc_id = $1", [postId]);
      return docs[0]?.version === 31 ? docs : undefined;
    }, 10_000, 'version 31 indexed');
    expect(indexed).toEqual({ version: 31 });
    expect(await api.search(`edit${last}`, 'post')).toEqual([postId]);
  });

  it('gives each of 20 PATCHes of one artist its own version, and search and content\'s cache agree with it', async () => {
    const { artistId } = await api.ok<{ artistId: string }>('POST', '/artists', 201, { name: 'Racer', genre: 'rock', bio: '' });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api.call<{ version: number }>('PATCH', `/artists/${artistId}`, { body: { name: `racer${i}` } })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(acknowledged(replies).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const artist = (await api.call<{ name: string; version: number }>('GET', `/artists/${artistId}`)).body;
    expect(artist.version).toBe(21);
    const final = { name: artist.name, version: 21 };
    expect(final.name).toBe(`racer${replies.findIndex((r) => r.body.version === 21)}`);

    await eventually(async () => {
      const [cached] = await rows<{ name: string; version: number }>('SELECT name, version FROM content_artists WHERE artist_id = $1', [artistId]);
      const [indexed] = await rows<{ title: string; version: number }>("SELECT title, version FROM search_documents WHERE kind = 'artist' AND doc_id = $1", [artistId]);
      return cached?.version === 21 && indexed?.version === 21 ? true : undefined;
    }, 10_000, 'version 21 in content and search');
    expect(await rows('SELECT name, version FROM content_artists WHERE artist_id = $1', [artistId])).toEqual([final]);
    expect(await rows("SELECT title AS name, version FROM search_documents WHERE kind = 'artist' AND doc_id = $1", [artistId])).toEqual([final]);
  });

  it('lands no edit after a deletion racing it, and search drops the post', async () => {
    for (let round = 0; round < 5; round++) {
      const postId = await newPost(`doomed${round}`);
      const [deleted, ...patches] = await Promise.all([
        api.call<{ version: number }>('DELETE', `/posts/${postId}`),
        ...Array.from({ length: 6 }, (_, i) => api.call<{ version: number }>('PATCH', `/posts/${postId}`, { body: { title: `Doomed ${round} edit${i}` } })),
      ]);
      expect(deleted!.status).toBe(200);
      expect(patches.every((r) => r.status === 200 || r.status === 404)).toBe(true);
      const edits = acknowledged(patches);
      // every acknowledged change has its own version, the deletion the last of them
      expect([...edits, deleted!.body.version].sort((a, b) => a - b)).toEqual(Array.from({ length: edits.length + 1 }, (_, i) => i + 2));
      expect((await api.call('GET', `/posts/${postId}`)).status).toBe(404);
      await eventually(async () => {
        const [doc] = await rows<{ version: number; deleted: number }>("SELECT version, deleted FROM search_documents WHERE kind = 'post' AND doc_id = $1", [postId]);
        return doc?.version === deleted!.body.version && doc.deleted === 1 ? true : undefined;
      }, 10_000, `post ${postId} dropped from the index at version ${deleted!.body.version}`);
      expect(await api.search(`doomed${round}`, 'post')).toEqual([]);
    }
  });

  it('keeps no comment on a post whose deletion raced it', async () => {
    const commenter = await api.register('commenter');
    for (let round = 0; round < 5; round++) {
      const postId = await newPost(`commented${round}`);
      await eventually(async () => ((await api.call('POST', `/posts/${postId}/comments`, { body: { authorId: commenter, text: 'first' } })).status === 201 ? true : undefined), 10_000, 'the post known to comment');
      let stop = false;
      const statuses: number[] = [];
      // comments keep coming while the deletion is published and applied by comment
      const writers = Array.from({ length: 6 }, async () => {
        while (!stop) statuses.push((await api.call('POST', `/posts/${postId}/comments`, { body: { authorId: commenter, text: 'racing' } })).status);
      });
      await api.ok('DELETE', `/posts/${postId}`, 200);
      await eventually(async () => ((await rows('SELECT 1 FROM comment_posts WHERE post_id = $1 AND deleted = 1', [postId])).length === 1 ? true : undefined), 10_000, 'the deletion applied by comment');
      stop = true;
      await Promise.all(writers);
      expect(statuses.every((s) => s === 201 || s === 404)).toBe(true);
      expect(statuses).toContain(404);
      expect((await api.call<{ comments: unknown[] }>('GET', `/posts/${postId}/comments`)).body.comments).toEqual([]);
    }
  });
});
