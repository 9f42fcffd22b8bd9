import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uuidv7, type Envelope } from '@herald/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { CommentCreated, GROUPS, PostCreated, PostDeleted, PostUpdated, searchGroup, UserFollowed, UserRegisteredV1 } from '../src/events.js';
import { createContentPlatform, type ContentPlatform } from '../src/system.js';
import { ContentApi, eventually } from './support/client.js';

// Every service in one process on the embedded engine (a real SQLite file), driven over HTTP: what
// the seed's ADR promises of publish and forget, event-carried state, ordering by version and
// idempotent consumers.

const dir = mkdtempSync(join(tmpdir(), 'herald-content-platform-'));
const env = { HERALD_DATA_DIR: dir, HERALD_KAFKA_BROKERS: '', DATABASE_URL: '', HERALD_LOG_LEVEL: 'silent', PORT: '0', HERALD_RETRY_INITIAL_DELAY_MS: '10' };
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

/** Resolves with the outcome once `group` has handled the event `envelope` (applied, or skipped as a duplicate). */
function handled(envelope: Envelope, group: string): Promise<string> {
  return new Promise((resolve) => {
    const off = system.app.instrumentation.on((fact) => {
      if (fact.kind === 'handled' && fact.group === group && fact.eventId === envelope.id) {
        off();
        resolve(fact.outcome);
      }
    });
  });
}

const searchHandled = (envelope: Envelope) => handled(envelope, searchGroup(1));

describe('content-platform in one process', () => {
  let alice: string;
  let bob: string;
  let carol: string;
  let artistId: string;
  let postId: string;

  it('answers a post at once and search, notification and comment follow from its events, with the request\'s correlation id', async () => {
    [alice, bob, carol] = [await api.register('alice'), await api.register('bob'), await api.register('carol')];
    await api.ok('POST', `/users/${bob}/follows`, 201, { authorId: alice });
    artistId = (await api.ok<{ artistId: string }>('POST', '/artists', 201, { name: 'Кино', genre: 'rock', bio: 'Ленинградская рок-группа' })).artistId;
    // content knows the artist once its event arrived (its own cache, never the artist's table)
    const created = await eventually(async () => {
      const reply = await api.call<{ postId: string; slug: string; version: number }>('POST', '/posts', {
        body: { authorId: alice, artistId, title: 'Best Rock Song', content: 'Группа крови is a song of 1988' },
        headers: { 'x-correlation-id': 'request-5678' },
      });
      return reply.status === 201 ? reply : undefined;
    }, 10_000, 'the artist in content\'s cache');
    expect(created.correlationId).toBe('request-5678');
    postId = created.body.postId;
    expect(created.body).toEqual({ postId, slug: `best-rock-song-${postId.replaceAll('-', '').slice(-8)}`, version: 1 });

    await eventually(async () => ((await api.search('rock song')).includes(postId) ? true : undefined), 10_000, 'the post indexed');
    expect(await api.search('кино', 'artist')).toEqual([artistId]);
    // the post carries the artist's name (event-carried state): search finds it by that name too
    expect(await api.search('кино', 'post')).toEqual([postId]);
    const told = await eventually(async () => (await api.notifications(bob)).find((n) => n.type === 'NEW_POST'), 10_000, "bob's notification");
    expect(told).toEqual({ notificationId: `post:${postId}:${bob}`, type: 'NEW_POST', text: 'New post: Best Rock Song', correlationId: 'request-5678', createdAt: expect.any(Number) });
    expect((await api.notifications(alice)).map((n) => n.type)).toEqual(['WELCOME']);
  });

  it('replaces a post in the index by a newer version, and leaves it as it is for an older one', async () => {
    expect(await api.ok('PATCH', `/posts/${postId}`, 200, { title: 'Greatest Song' })).toEqual({ postId, version: 2 });
    await eventually(async () => ((await api.search('greatest')).includes(postId) ? true : undefined), 10_000, 'version 2 indexed');
    expect(await api.search('best')).toEqual([]);

    // an older version arriving late (a replay, a redrive): skipped, whatever its id
    const stale = await system.app.publish(PostUpdated, {
      postId,
      authorId: alice,
      artistId,
      artistName: 'Кино',
      title: 'Stale Title',
      content: 'stale',
      slug: 'stale',
      version: 1,
      updatedAt: 0,
    });
    expect(await searchHandled(stale)).toBe('applied');
    expect(await api.search('stale')).toEqual([]);
    expect(await api.search('greatest')).toEqual([postId]);
    const [doc] = await system.app.transaction((tx) => tx.query<{ version: number }>("SELECT version FROM search_documents WHERE kind = 'post' AND doc_id = $1", [postId]));
    expect(Number(doc!.version)).toBe(2);
  });

  it('tells a post\'s author of comments by others, and drops the comments and the post from search when it is deleted, for good', async () => {
    await eventually(async () => ((await api.call('POST', `/posts/${postId}/comments`, { body: { authorId: carol, text: 'Цой жив' } })).status === 201 ? true : undefined), 10_000, "the post in comment's copy");
    await api.ok('POST', `/posts/${postId}/comments`, 201, { authorId: alice, text: 'thanks' });
    const comments = await api.call<{ comments: { authorId: string; text: string }[] }>('GET', `/posts/${postId}/comments`);
    expect(comments.body.comments.map((c) => [c.authorId, c.text])).toEqual([
      [carol, 'Цой жив'],
      [alice, 'thanks'],
    ]);
    const told = await eventually(async () => (await api.notifications(alice)).find((n) => n.type === 'NEW_COMMENT'), 10_000, "alice's notification");
    expect(told.text).toBe('New comment on Greatest Song');

    expect(await api.ok('DELETE', `/posts/${postId}`, 200)).toEqual({ postId, version: 3, deleted: true });
    await eventually(async () => ((await api.search('greatest')).length === 0 ? true : undefined), 10_000, 'the post out of the index');
    await eventually(async () => ((await api.call<{ comments: unknown[] }>('GET', `/posts/${postId}/comments`)).body.comments.length === 0 ? true : undefined), 10_000, 'the comments removed');
    expect((await api.call('GET', `/posts/${postId}`)).body).toMatchObject({ status: 404, code: 'post-not-found' });
    expect((await api.call('POST', `/posts/${postId}/comments`, { body: { authorId: carol, text: 'late' } })).body).toMatchObject({ status: 404, code: 'post-not-found' });

    // its created event arriving again after the deletion brings nothing back: the tombstone holds
    const late = await system.app.publish(PostCreated, { postId, authorId: alice, artistId, artistName: 'Кино', title: 'Zombie', content: 'zombie', slug: 'zombie', version: 1, createdAt: 0 });
    await searchHandled(late);
    expect(await api.search('zombie')).toEqual([]);
    // alice commenting on her own post told nobody; bob was told once, whatever was delivered again
    expect((await api.notifications(alice)).map((n) => n.type)).toEqual(['WELCOME', 'NEW_COMMENT']);
    expect((await api.notifications(bob)).map((n) => n.type)).toEqual(['WELCOME', 'NEW_POST']);
  });

  it('renames an artist in content\'s cache, in its posts and in search; new posts carry the new name', async () => {
    const before = await api.ok<{ postId: string }>('POST', '/posts', 201, { authorId: carol, artistId, title: 'Пачка сигарет', content: 'A song of 1989' });
    await eventually(async () => ((await api.search('кино', 'post')).includes(before.postId) ? true : undefined), 10_000, 'the post found by its artist\'s name');
    expect(await api.ok('PATCH', `/artists/${artistId}`, 200, { name: 'Kino' })).toEqual({ artistId, version: 2 });
    // the post written before the rename takes the new name as its next version, and search follows
    await eventually(async () => ((await api.search('kino', 'post')).includes(before.postId) ? true : undefined), 10_000, 'the post found by the new name');
    expect(await api.search('кино', 'post')).not.toContain(before.postId);
    expect(await api.ok('GET', `/posts/${before.postId}`, 200)).toMatchObject({ artistName: 'Kino', version: 2 });
    await eventually(async () => ((await api.search('kino', 'artist')).includes(artistId) ? true : undefined), 10_000, 'the artist reindexed');
    expect(await api.search('кино', 'artist')).toEqual([]);
    const post = await eventually(async () => {
      const reply = await api.call<{ postId: string }>('POST', '/posts', { body: { authorId: bob, artistId, title: 'Звезда по имени Солнце', content: 'Another song' } });
      if (reply.status !== 201) return undefined;
      const view = await api.call<{ artistName: string }>('GET', `/posts/${reply.body.postId}`);
      return view.body.artistName === 'Kino' ? view : undefined;
    }, 10_000, 'the new name in content\'s cache');
    expect(post.status).toBe(200);
  });

  it('tells a follower of the posts published after the follow, whichever of the two the notification service sees first', async () => {
    const notification = GROUPS.notification;
    const post = (postId: string, createdAt: number) =>
      system.app.publish(PostCreated, { postId, authorId: 'dan', artistId: null, artistName: null, title: postId, content: 'x', slug: postId, version: 1, createdAt });
    // erin follows at 2 000, before the posts arrive; frank's follow at 2 000 arrives after them
    expect(await handled(await system.app.publish(UserFollowed, { userId: 'erin', authorId: 'dan', followedAt: 2_000 }), notification)).toBe('applied');
    await handled(await post('dan-1', 1_000), notification);
    await handled(await post('dan-2', 3_000), notification);
    expect(await handled(await system.app.publish(UserFollowed, { userId: 'frank', authorId: 'dan', followedAt: 2_000 }), notification)).toBe('applied');
    const newPosts = async (userId: string) => (await api.notifications(userId)).filter((n) => n.type === 'NEW_POST').map((n) => [n.notificationId, n.correlationId]);
    expect(await newPosts('erin')).toEqual([['post:dan-2:erin', expect.any(String)]]);
    expect(await newPosts('frank')).toEqual(await newPosts('erin').then((list) => list.map(([, correlationId]) => ['post:dan-2:frank', correlationId])));

    // a follow published again later, claiming an earlier time: the first follow's time holds
    expect(await handled(await system.app.publish(UserFollowed, { userId: 'frank', authorId: 'dan', followedAt: 0 }), notification)).toBe('applied');
    expect((await newPosts('frank')).map(([id]) => id)).toEqual(['post:dan-2:frank']);
  });

  it('tells nobody of a deleted post: not a follower whose follow comes later, not its author of a comment, not when the deletion comes first', async () => {
    const notification = GROUPS.notification;
    const post = (postId: string, createdAt: number) =>
      system.app.publish(PostCreated, { postId, authorId: 'gus', artistId: null, artistName: null, title: postId, content: 'x', slug: postId, version: 1, createdAt });
    const gone = (postId: string) => system.app.publish(PostDeleted, { postId, authorId: 'gus', version: 2, deletedAt: 5_000 });
    await handled(await post('gus-1', 3_000), notification);
    await handled(await gone('gus-1'), notification);
    // deleted before its creation reaches notification (post.deleted and post.created are other topics)
    await handled(await gone('gus-2'), notification);
    expect(await handled(await system.app.publish(UserFollowed, { userId: 'hal', authorId: 'gus', followedAt: 1_000 }), notification)).toBe('applied');
    await handled(await post('gus-2', 4_000), notification);
    await handled(await post('gus-3', 4_500), notification);
    await handled(await system.app.publish(CommentCreated, { commentId: 'c-gone', postId: 'gus-1', postAuthorId: 'gus', postTitle: 'gus-1', authorId: 'hal', text: 'late', createdAt: 6_000 }), notification);
    expect((await api.notifications('hal')).map((n) => n.notificationId)).toEqual(['post:gus-3:hal']);
    expect(await api.notifications('gus')).toEqual([]);
  });

  it('takes a post as long as the schema allows, in any script (over the gateway\'s default body limit)', async () => {
    const content = `${'ё'.repeat(24_999)} ${'🎵'.repeat(12_500)}`;
    expect(content.length).toBe(50_000);
    const { postId: longPost } = await api.ok<{ postId: string }>('POST', '/posts', 201, { authorId: alice, title: 'Ж'.repeat(300), content });
    expect((await api.call<{ content: string }>('GET', `/posts/${longPost}`)).body.content).toBe(content);
  });

  it('finds words in any script and Unicode form: composed or decomposed accents, vowel signs', async () => {
    const { postId: unicodePost } = await api.ok<{ postId: string }>('POST', '/posts', 201, { authorId: alice, title: 'Cafe\u0301 संगीत', content: 'naïve' });
    await eventually(async () => ((await api.search('café', 'post')).includes(unicodePost) ? true : undefined), 10_000, 'the decomposed title found by its composed form');
    expect(await api.search('Cafe\u0301 संगीत', 'post')).toEqual([unicodePost]);
    expect(await api.search('cafe', 'post')).toEqual([]);
    expect(await api.search('संग', 'post')).toEqual([]);
  });

  it("welcomes a user in their language, and one registered by an auth of before version 2 (no language) in English", async () => {
    const dmitry = (await api.ok<{ userId: string }>('POST', '/users', 201, { username: 'dmitry', email: 'dmitry@example.com', language: 'ru' })).userId;
    const welcomed = await eventually(async () => (await api.notifications(dmitry)).find((n) => n.type === 'WELCOME'), 10_000, "dmitry's welcome");
    expect(welcomed.text).toBe('Добро пожаловать, dmitry!');
    // an auth process not upgraded yet publishes version 1; notification (version 2) reads it upcast
    const legacy = uuidv7();
    const event = await system.app.publish(UserRegisteredV1, { userId: legacy, username: 'legacy', email: 'legacy@example.com', registeredAt: Date.now() });
    expect(event.version).toBe(1);
    const old = await eventually(async () => (await api.notifications(legacy)).find((n) => n.type === 'WELCOME'), 10_000, "legacy's welcome");
    expect(old.text).toBe('Welcome, legacy!');
    expect(await system.app.deadLetters({ group: GROUPS.notification })).toEqual([]);
  });

  it('refuses bad requests with problem+json, and a repeated key gets the first answer with one event', async () => {
    const alive = (await api.ok<{ postId: string }>('POST', '/posts', 201, { authorId: alice, title: 'still here', content: 'c' })).postId;
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/users', { username: 'alice', email: 'other@example.com' }, 409, 'username-taken'],
      ['POST', '/users', { username: 'x', email: 'not-an-email' }, 422, 'schema-violation'],
      ['POST', '/users', { username: 'zoe', email: 'zoe@example.com', language: 'de' }, 422, 'schema-violation'],
      ['POST', `/users/${bob}/follows`, { authorId: 'nobody' }, 404, 'user-not-found'],
      ['POST', `/users/${bob}/follows`, { authorId: bob }, 422, 'cannot-follow-self'],
      ['POST', '/posts', { authorId: 'nobody', title: 't', content: 'c' }, 404, 'user-not-found'],
      ['POST', '/posts', { authorId: alice, title: 'nul \u0000 byte', content: 'c' }, 422, 'schema-violation'],
      ['POST', '/posts', { authorId: alice, artistId: 'no-such-artist', title: 't', content: 'c' }, 422, 'unknown-artist'],
      ['POST', '/posts', { authorId: alice, title: '', content: 'c' }, 422, 'schema-violation'],
      ['POST', '/posts', { authorId: alice, title: ' \t\n\u00a0', content: 'c' }, 422, 'schema-violation'],
      ['POST', '/posts', { authorId: alice, title: 't', content: '  \n ' }, 422, 'schema-violation'],
      ['POST', '/posts', { authorId: alice, title: 't', content: 'ё'.repeat(50_001) }, 422, 'schema-violation'],
      ['PATCH', `/posts/${postId}`, { title: 'deleted already' }, 404, 'post-not-found'],
      ['PATCH', `/posts/${alive}`, { content: '   ' }, 422, 'schema-violation'],
      ['PATCH', `/artists/${artistId}`, {}, 422, 'empty-change'],
      // a blank name or genre names nothing (search could never find such an artist, posts would carry it)
      ['POST', '/artists', { name: ' \t\u00a0', genre: 'rock', bio: '' }, 422, 'schema-violation'],
      ['POST', '/artists', { name: 'Пикник', genre: '   ', bio: '' }, 422, 'schema-violation'],
      ['PATCH', `/artists/${artistId}`, { name: '  ' }, 422, 'schema-violation'],
      ['PATCH', '/artists/nope', { name: 'x' }, 404, 'artist-not-found'],
      ['GET', '/search?q=a&limit=1000', undefined, 422, 'schema-violation'],
      ['GET', '/search', undefined, 422, 'schema-violation'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const reply = await api.call(method, path, { body });
      expect({ method, path, status: reply.status, type: reply.contentType, code: reply.body['code'] }).toEqual({ method, path, status, type: 'application/problem+json', code });
    }
    expect((await api.call('POST', '/artists', { body: { name: 'n', genre: 'g', bio: '' }, key: null })).body).toMatchObject({ status: 400, code: 'idempotency-key-missing' });

    const first = await api.call<{ artistId: string }>('POST', '/artists', { body: { name: 'Аквариум', genre: 'rock', bio: '' }, key: 'same-key' });
    const again = await api.call<{ artistId: string }>('POST', '/artists', { body: { name: 'Аквариум', genre: 'rock', bio: '' }, key: 'same-key' });
    expect(again).toMatchObject({ status: 201, replayed: true, body: first.body });
    const rows = await system.app.transaction((tx) => tx.query<{ n: number }>("SELECT COUNT(*) AS n FROM artists WHERE name = 'Аквариум'", []));
    expect(Number(rows[0]!.n)).toBe(1);
  });
});
