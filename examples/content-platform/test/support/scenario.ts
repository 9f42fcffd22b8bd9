import { expect } from 'vitest';
import { eventually, pool, type ContentApi } from './client.js';

/** The people and the artist a scenario writes for. */
export interface Cast {
  readonly authors: readonly string[];
  readonly followers: readonly string[];
  readonly artistId: string;
}

/** What the platform must end up showing of one post the scenario wrote. */
export interface PostOutcome {
  readonly postId: string;
  readonly authorId: string;
  /** The word only this post's current title holds. */
  readonly word: string;
  /** Words it was found by before an update or its deletion: found by nothing now. */
  readonly goneWords: readonly string[];
  readonly deleted: boolean;
}

/** Registers two authors and three followers of both, and an artist; `prefix` keeps usernames unique. */
export async function cast(api: ContentApi, prefix: string): Promise<Cast> {
  const authors = [await api.register(`${prefix}-author-1`), await api.register(`${prefix}-author-2`)];
  const followers = [await api.register(`${prefix}-fan-1`), await api.register(`${prefix}-fan-2`), await api.register(`${prefix}-fan-3`)];
  for (const follower of followers) for (const author of authors) await api.ok('POST', `/users/${follower}/follows`, 201, { authorId: author });
  const { artistId } = await api.ok<{ artistId: string }>('POST', '/artists', 201, { name: `${prefix} Band`, genre: 'rock', bio: 'A band of the scenario' });
  return { authors, followers, artistId };
}

/**
 * Writes `count` posts with `concurrency` clients, alternating authors: every third is then
 * updated to a new title, every fifth deleted (some both). Each title holds a word no other post
 * has, so a search for it must find exactly that post. `progress.done` counts answered posts.
 * `api()` gives the client to use for each request (one replica, or whichever is alive).
 */
export async function writePosts(
  api: () => ContentApi,
  who: Cast,
  options: { prefix: string; count: number; concurrency: number; progress?: { done: number } },
): Promise<PostOutcome[]> {
  const outcomes: PostOutcome[] = [];
  // the first post waits for content to know the artist (its cache fills from the artist's event)
  const first = await eventually(async () => {
    const reply = await api().call<{ postId: string }>('POST', '/posts', { body: post(who, options.prefix, 0) });
    return reply.status === 201 ? reply.body.postId : undefined;
  }, 30_000, "the artist in content's cache");
  const written = [first];
  await pool(
    Array.from({ length: options.count - 1 }, (_, i) => i + 1),
    options.concurrency,
    async (i) => {
      written[i] = (await api().ok<{ postId: string }>('POST', '/posts', 201, post(who, options.prefix, i))).postId;
      if (options.progress) options.progress.done++;
    },
  );
  await pool(written, options.concurrency, async (postId, i) => {
    const created = word(options.prefix, i);
    let current = created;
    const goneWords: string[] = [];
    if (i % 3 === 0) {
      current = word(options.prefix, i, 'v2');
      await api().ok('PATCH', `/posts/${postId}`, 200, { title: `Updated post ${current}` });
      goneWords.push(created);
    }
    const deleted = i % 5 === 0;
    if (deleted) {
      await api().ok('DELETE', `/posts/${postId}`, 200);
      goneWords.push(current);
    }
    outcomes[i] = { postId, authorId: who.authors[i % who.authors.length]!, word: current, goneWords, deleted };
  });
  return outcomes;
}

function post(who: Cast, prefix: string, i: number): unknown {
  return { authorId: who.authors[i % who.authors.length], artistId: who.artistId, title: `Post ${word(prefix, i)}`, content: `About the band, take ${i}` };
}

function word(prefix: string, i: number, version = 'v1'): string {
  return `${prefix}w${i}${version}`;
}

/**
 * Waits until search shows exactly what `posts` say: each live post found by its word and only
 * by it, nothing found by a word a post had before an update, and no deleted post found.
 */
export async function expectIndexed(api: () => ContentApi, posts: readonly PostOutcome[], timeoutMs = 60_000): Promise<void> {
  const wrong = async (): Promise<string[]> => {
    const problems: string[] = [];
    for (const p of posts) {
      const found = await api().search(p.word, 'post');
      const expected = p.deleted ? [] : [p.postId];
      if (JSON.stringify(found) !== JSON.stringify(expected)) problems.push(`${p.word}: ${JSON.stringify(found)} instead of ${JSON.stringify(expected)}`);
      for (const gone of p.goneWords) if ((await api().search(gone, 'post')).length > 0) problems.push(`${gone} still found`);
    }
    return problems;
  };
  let last: string[] = [];
  await eventually(async () => ((last = await wrong()).length === 0 ? true : undefined), timeoutMs, () => `the index to match the posts: ${last.slice(0, 5).join('; ')}`, 250);
}

/**
 * Waits until every follower was told of every live post, once each. A deleted post was told of
 * or not, depending on the order its `post.created` and `post.deleted` (other topics) reached
 * notification: with the relay's chaos either may come first, and one handled after the deletion
 * tells nobody. Nothing is told of a post the scenario did not write.
 */
export async function expectFollowersTold(api: () => ContentApi, who: Cast, posts: readonly PostOutcome[], timeoutMs = 60_000): Promise<void> {
  for (const follower of who.followers) {
    const id = (p: PostOutcome) => `post:${p.postId}:${follower}`;
    const live = posts.filter((p) => !p.deleted).map(id);
    const told = await eventually(
      async () => {
        const ids = (await api().notifications(follower)).filter((n) => n.type === 'NEW_POST').map((n) => n.notificationId);
        return live.every((expected) => ids.includes(expected)) ? ids : undefined;
      },
      timeoutMs,
      `the NEW_POST notifications of ${follower}`,
    );
    const deleted = new Set(posts.filter((p) => p.deleted).map(id));
    expect(told.filter((notified) => !live.includes(notified) && !deleted.has(notified))).toEqual([]);
    expect(new Set(told).size).toBe(told.length);
  }
}
