import { ErrorCodes, HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import type { Gateway } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { ArtistCreated, ArtistUpdated, CommentCreated, PostCreated, PostDeleted, PostUpdated, UserFollowed, UserRegistered } from '../events.js';
import { integer } from '../schema.js';
import { slugOf } from '../text.js';
import { searchIndex } from './search.js';

/** Domain error codes of the routes, and the problem each is answered with. */
export const API_ERRORS = {
  usernameTaken: 'username-taken',
  userNotFound: 'user-not-found',
  artistNotFound: 'artist-not-found',
  unknownArtist: 'unknown-artist',
  postNotFound: 'post-not-found',
  emptyChange: 'empty-change',
  cannotFollowSelf: 'cannot-follow-self',
} as const;

/** `errorKinds` of the gateway for {@link API_ERRORS}. */
export const API_ERROR_KINDS: Readonly<Record<string, string>> = {
  [API_ERRORS.usernameTaken]: 'conflict',
  [API_ERRORS.userNotFound]: 'not-found',
  [API_ERRORS.artistNotFound]: 'not-found',
  [API_ERRORS.unknownArtist]: ErrorCodes.invalidOptions,
  [API_ERRORS.postNotFound]: 'not-found',
  [API_ERRORS.emptyChange]: ErrorCodes.invalidOptions,
  [API_ERRORS.cannotFollowSelf]: ErrorCodes.invalidOptions,
};

/** Text PostgreSQL can store: anything but NUL (SQLite would take it; PostgreSQL refuses it). */
const NO_NUL = '^[^\\u0000]*$';
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL });
const IdParams = Type.Object({ id: Id });
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: NO_NUL });
const RegisterBody = Type.Object(
  { username: Type.String({ minLength: 3, maxLength: 50, pattern: '^[A-Za-z0-9_.-]+$' }), email: Type.String({ format: 'email', maxLength: 254 }) },
  { additionalProperties: false },
);
const FollowBody = Type.Object({ authorId: Id }, { additionalProperties: false });
const ArtistBody = Type.Object({ name: Name, genre: Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL }), bio: Type.String({ maxLength: 5_000, pattern: NO_NUL }) }, { additionalProperties: false });
const ArtistPatch = Type.Partial(ArtistBody, { additionalProperties: false });
const Title = Type.String({ minLength: 1, maxLength: 300, pattern: NO_NUL });
const Content = Type.String({ minLength: 1, maxLength: 50_000, pattern: NO_NUL });
const PostBody = Type.Object({ authorId: Id, artistId: Type.Optional(Type.Union([Id, Type.Null()])), title: Title, content: Content }, { additionalProperties: false });
const PostPatch = Type.Object({ artistId: Type.Optional(Type.Union([Id, Type.Null()])), title: Type.Optional(Title), content: Type.Optional(Content) }, { additionalProperties: false });
const CommentBody = Type.Object({ authorId: Id, text: Type.String({ minLength: 1, maxLength: 5_000, pattern: NO_NUL }) }, { additionalProperties: false });
const SearchQuery = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: 500, pattern: NO_NUL }),
    kind: Type.Optional(Type.Union([Type.Literal('post'), Type.Literal('artist')])),
    /** 1 to 100, default 20 (a query string holds text: digits, checked here). */
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]?|100)$' })),
  },
  { additionalProperties: false },
);

interface PostRow {
  post_id: string;
  author_id: string;
  artist_id: string | null;
  artist_name: string | null;
  title: string;
  content: string;
  slug: string;
  version: number | string;
  updated_at: number | string;
}

/**
 * The HTTP front of seed 002's publishing services: auth (users, follows), artist, content
 * (posts) and comment each write their own tables and publish their event in the same
 * transaction (the outbox), and answer at once — "publish and forget": search and notification
 * follow from the events, and a subscriber that is down delays nothing here. The reads (search, a
 * user's notifications) are the consuming services' query sides. Every command takes an
 * `Idempotency-Key`, and the events carry the request's `X-Correlation-Id`.
 *
 * Identity is out of this example's scope: requests name their user (`authorId`); the async-orders
 * example shows a JWT gateway.
 */
export function registerApiRoutes(gateway: Gateway<SqlTx>, app: App<SqlTx>): void {
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.transaction(work);
  const now = () => app.clock.now();

  // auth
  gateway.command({
    method: 'POST',
    url: '/users',
    body: RegisterBody,
    status: 201,
    handle: async ({ body, tx, publish, logger }) => {
      const userId = uuidv7();
      const registeredAt = now();
      const inserted = await tx.execute('INSERT INTO auth_users (user_id, username, email, registered_at) VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING', [
        userId,
        body.username,
        body.email,
        registeredAt,
      ]);
      if (inserted === 0) throw new HeraldError(API_ERRORS.usernameTaken, `username "${body.username}" is taken`);
      await publish(UserRegistered, { userId, username: body.username, email: body.email, registeredAt });
      logger.info('published', { event: UserRegistered.topic, status: 'published', userId });
      return { userId, username: body.username };
    },
  });

  gateway.command({
    method: 'POST',
    url: '/users/:id/follows',
    params: IdParams,
    body: FollowBody,
    status: 201,
    handle: async ({ params, body, tx, publish }) => {
      if (params.id === body.authorId) throw new HeraldError(API_ERRORS.cannotFollowSelf, 'a user cannot follow themselves');
      const users = await tx.query<{ user_id: string }>('SELECT user_id FROM auth_users WHERE user_id IN ($1, $2)', [params.id, body.authorId]);
      for (const id of [params.id, body.authorId]) {
        if (!users.some((u) => u.user_id === id)) throw new HeraldError(API_ERRORS.userNotFound, `no user ${id}`);
      }
      const followedAt = now();
      const inserted = await tx.execute('INSERT INTO auth_follows (user_id, author_id, followed_at) VALUES ($1, $2, $3) ON CONFLICT (user_id, author_id) DO NOTHING', [
        params.id,
        body.authorId,
        followedAt,
      ]);
      if (inserted === 1) await publish(UserFollowed, { userId: params.id, authorId: body.authorId, followedAt });
      return { userId: params.id, authorId: body.authorId };
    },
  });

  // artist
  gateway.command({
    method: 'POST',
    url: '/artists',
    body: ArtistBody,
    status: 201,
    handle: async ({ body, tx, publish }) => {
      const artistId = uuidv7();
      const createdAt = now();
      await tx.execute('INSERT INTO artists (artist_id, name, genre, bio, version, updated_at) VALUES ($1, $2, $3, $4, 1, $5)', [artistId, body.name, body.genre, body.bio, createdAt]);
      await publish(ArtistCreated, { artistId, ...body, version: 1, createdAt });
      return { artistId, version: 1 };
    },
  });

  gateway.command({
    method: 'PATCH',
    url: '/artists/:id',
    params: IdParams,
    body: ArtistPatch,
    handle: async ({ params, body, tx, publish }) => {
      if (Object.keys(body).length === 0) throw new HeraldError(API_ERRORS.emptyChange, 'nothing to change: give name, genre or bio');
      // the row locked first (PostgreSQL): two edits at once each get their own version
      const locked = await tx.execute('UPDATE artists SET version = version WHERE artist_id = $1', [params.id]);
      const [row] = locked === 1 ? await tx.query<{ name: string; genre: string; bio: string; version: number | string }>('SELECT name, genre, bio, version FROM artists WHERE artist_id = $1', [params.id]) : [];
      if (!row) throw new HeraldError(API_ERRORS.artistNotFound, `no artist ${params.id}`);
      const next = { name: body.name ?? row.name, genre: body.genre ?? row.genre, bio: body.bio ?? row.bio, version: integer(row.version) + 1 };
      const updatedAt = now();
      await tx.execute('UPDATE artists SET name = $1, genre = $2, bio = $3, version = $4, updated_at = $5 WHERE artist_id = $6', [next.name, next.genre, next.bio, next.version, updatedAt, params.id]);
      await publish(ArtistUpdated, { artistId: params.id, ...next, updatedAt });
      return { artistId: params.id, version: next.version };
    },
  });

  gateway.query({
    url: '/artists/:id',
    params: IdParams,
    handle: async ({ params }) => {
      const [row] = await read((tx) => tx.query<{ artist_id: string; name: string; genre: string; bio: string; version: number | string }>('SELECT * FROM artists WHERE artist_id = $1', [params.id]));
      if (!row) throw new HeraldError(API_ERRORS.artistNotFound, `no artist ${params.id}`);
      return { artistId: row.artist_id, name: row.name, genre: row.genre, bio: row.bio, version: integer(row.version) };
    },
  });

  /** Refuses an author auth does not know (the gateway's check, as a token's subject would be). */
  const knownUser = async (tx: SqlTx, userId: string): Promise<void> => {
    const [user] = await tx.query('SELECT 1 FROM auth_users WHERE user_id = $1', [userId]);
    if (!user) throw new HeraldError(API_ERRORS.userNotFound, `no user ${userId}`);
  };

  // content
  /** The artist's name in content's cache; refuses an artist content has not heard of (yet). */
  const artistName = async (tx: SqlTx, artistId: string | null): Promise<string | null> => {
    if (artistId === null) return null;
    const [row] = await tx.query<{ name: string }>('SELECT name FROM content_artists WHERE artist_id = $1', [artistId]);
    if (!row) throw new HeraldError(API_ERRORS.unknownArtist, `artist ${artistId} is not known to content (an artist created a moment ago is known within moments)`);
    return row.name;
  };
  /**
   * The post, unless deleted. `lock` first writes to its row, so on PostgreSQL a concurrent edit or
   * deletion waits for this transaction (or this one sees it done): every change gets its own
   * version, and an edit never lands after a deletion.
   */
  const livePost = async (tx: SqlTx, postId: string, lock = false): Promise<PostRow> => {
    const live = lock ? await tx.execute('UPDATE content_posts SET version = version WHERE post_id = $1 AND deleted = 0', [postId]) : 1;
    const [row] = live === 1 ? await tx.query<PostRow>('SELECT * FROM content_posts WHERE post_id = $1 AND deleted = 0', [postId]) : [];
    if (!row) throw new HeraldError(API_ERRORS.postNotFound, `no post ${postId}`);
    return row;
  };

  gateway.command({
    method: 'POST',
    url: '/posts',
    body: PostBody,
    status: 201,
    handle: async ({ body, tx, publish, logger }) => {
      await knownUser(tx, body.authorId);
      const postId = uuidv7();
      const artistId = body.artistId ?? null;
      const post = { postId, authorId: body.authorId, artistId, artistName: await artistName(tx, artistId), title: body.title, content: body.content, slug: slugOf(body.title, postId), version: 1 };
      const createdAt = now();
      await tx.execute(
        'INSERT INTO content_posts (post_id, author_id, artist_id, artist_name, title, content, slug, version, deleted, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 0, $8)',
        [postId, post.authorId, artistId, post.artistName, post.title, post.content, post.slug, createdAt],
      );
      await publish(PostCreated, { ...post, createdAt });
      logger.info('published', { event: PostCreated.topic, status: 'published', postId });
      return { postId, slug: post.slug, version: 1 };
    },
  });

  gateway.command({
    method: 'PATCH',
    url: '/posts/:id',
    params: IdParams,
    body: PostPatch,
    handle: async ({ params, body, tx, publish, logger }) => {
      if (Object.keys(body).length === 0) throw new HeraldError(API_ERRORS.emptyChange, 'nothing to change: give title, content or artistId');
      const row = await livePost(tx, params.id, true);
      const artistId = body.artistId === undefined ? row.artist_id : body.artistId;
      const post = {
        postId: row.post_id,
        authorId: row.author_id,
        artistId,
        artistName: body.artistId === undefined ? row.artist_name : await artistName(tx, artistId),
        title: body.title ?? row.title,
        content: body.content ?? row.content,
        slug: row.slug,
        version: integer(row.version) + 1,
      };
      const updatedAt = now();
      await tx.execute('UPDATE content_posts SET artist_id = $1, artist_name = $2, title = $3, content = $4, version = $5, updated_at = $6 WHERE post_id = $7', [
        post.artistId,
        post.artistName,
        post.title,
        post.content,
        post.version,
        updatedAt,
        post.postId,
      ]);
      await publish(PostUpdated, { ...post, updatedAt });
      logger.info('published', { event: PostUpdated.topic, status: 'published', postId: post.postId, version: post.version });
      return { postId: post.postId, version: post.version };
    },
  });

  gateway.command({
    method: 'DELETE',
    url: '/posts/:id',
    params: IdParams,
    handle: async ({ params, tx, publish, logger }) => {
      const row = await livePost(tx, params.id, true);
      const version = integer(row.version) + 1;
      const deletedAt = now();
      await tx.execute('UPDATE content_posts SET deleted = 1, version = $1, updated_at = $2 WHERE post_id = $3', [version, deletedAt, params.id]);
      await publish(PostDeleted, { postId: params.id, authorId: row.author_id, version, deletedAt });
      logger.info('published', { event: PostDeleted.topic, status: 'published', postId: params.id, version });
      return { postId: params.id, version, deleted: true };
    },
  });

  gateway.query({
    url: '/posts/:id',
    params: IdParams,
    handle: async ({ params }) => {
      const row = await read((tx) => livePost(tx, params.id));
      return {
        postId: row.post_id,
        authorId: row.author_id,
        artistId: row.artist_id,
        artistName: row.artist_name,
        title: row.title,
        content: row.content,
        slug: row.slug,
        version: integer(row.version),
        updatedAt: integer(row.updated_at),
      };
    },
  });

  // comment: checks its own copy of the posts, never content's table
  gateway.command({
    method: 'POST',
    url: '/posts/:id/comments',
    params: IdParams,
    body: CommentBody,
    status: 201,
    handle: async ({ params, body, tx, publish }) => {
      // a write to the post's row first: a deletion being applied waits for this transaction (or
      // this one sees it done), so a comment never outlives its post's deletion
      const live = await tx.execute('UPDATE comment_posts SET deleted = 0 WHERE post_id = $1 AND deleted = 0', [params.id]);
      await knownUser(tx, body.authorId);
      const [post] = live === 1 ? await tx.query<{ author_id: string; title: string }>('SELECT author_id, title FROM comment_posts WHERE post_id = $1', [params.id]) : [];
      if (!post) throw new HeraldError(API_ERRORS.postNotFound, `no post ${params.id} (a post published a moment ago can be commented on within moments)`);
      const commentId = uuidv7();
      const createdAt = now();
      await tx.execute('INSERT INTO comments (comment_id, post_id, author_id, text, created_at) VALUES ($1, $2, $3, $4, $5)', [commentId, params.id, body.authorId, body.text, createdAt]);
      await publish(CommentCreated, { commentId, postId: params.id, postAuthorId: post.author_id, postTitle: post.title, authorId: body.authorId, text: body.text, createdAt });
      return { commentId, postId: params.id };
    },
  });

  gateway.query({
    url: '/posts/:id/comments',
    params: IdParams,
    handle: async ({ params }) => {
      const rows = await read((tx) =>
        tx.query<{ comment_id: string; author_id: string; text: string; created_at: number | string }>(
          'SELECT comment_id, author_id, text, created_at FROM comments WHERE post_id = $1 ORDER BY created_at, comment_id',
          [params.id],
        ),
      );
      return { comments: rows.map((r) => ({ commentId: r.comment_id, authorId: r.author_id, text: r.text, createdAt: integer(r.created_at) })) };
    },
  });

  // search and notification: the consuming services' query sides
  gateway.query({
    url: '/search',
    querystring: SearchQuery,
    handle: async ({ query }) => ({ hits: await read((tx) => searchIndex(tx, query.q, query.kind, query.limit === undefined ? 20 : Number(query.limit))) }),
  });

  gateway.query({
    url: '/users/:id/notifications',
    params: IdParams,
    handle: async ({ params }) => {
      const rows = await read((tx) =>
        tx.query<{ notification_id: string; type: string; text: string; correlation_id: string | null; created_at: number | string }>(
          'SELECT notification_id, type, text, correlation_id, created_at FROM notifications WHERE user_id = $1 ORDER BY created_at, notification_id',
          [params.id],
        ),
      );
      return {
        notifications: rows.map((r) => ({ notificationId: r.notification_id, type: r.type, text: r.text, correlationId: r.correlation_id, createdAt: integer(r.created_at) })),
      };
    },
  });
}
