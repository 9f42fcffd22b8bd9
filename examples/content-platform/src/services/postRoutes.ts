import { HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import type { Gateway } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { CommentCreated, PostCreated, PostDeleted, PostUpdated } from '../events.js';
import { slugOf } from '../text.js';
import { API_ERRORS, Id, IdParams, NO_NUL } from './apiSchemas.js';

const Title = Type.String({ minLength: 1, maxLength: 300, pattern: NO_NUL });
const Content = Type.String({ minLength: 1, maxLength: 50_000, pattern: NO_NUL });
const PostBody = Type.Object({ authorId: Id, artistId: Type.Optional(Type.Union([Id, Type.Null()])), title: Title, content: Content }, { additionalProperties: false });
const PostPatch = Type.Object({ artistId: Type.Optional(Type.Union([Id, Type.Null()])), title: Type.Optional(Title), content: Type.Optional(Content) }, { additionalProperties: false });
const CommentBody = Type.Object({ authorId: Id, text: Type.String({ minLength: 1, maxLength: 5_000, pattern: NO_NUL }) }, { additionalProperties: false });

/** A row of `content_posts` (its columns but `deleted`). */
export interface PostRow {
  post_id: string;
  author_id: string;
  artist_id: string | null;
  artist_name: string | null;
  title: string;
  content: string;
  slug: string;
  version: number;
  updated_at: number;
}

/**
 * The routes of content (posts, checked against content's cache of the artists) and of comment
 * (checked against comment's own copy of the posts): each writes its service's tables and
 * publishes its event in one transaction. Part of the api (see `registerApiRoutes`).
 */
export function registerPostRoutes(gateway: Gateway<SqlTx>, app: App<SqlTx>): void {
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.transaction(work);
  const now = () => app.clock.now();

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
        version: row.version + 1,
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
      const version = row.version + 1;
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
        version: row.version,
        updatedAt: row.updated_at,
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
        tx.query<{ comment_id: string; author_id: string; text: string; created_at: number }>(
          'SELECT comment_id, author_id, text, created_at FROM comments WHERE post_id = $1 ORDER BY created_at, comment_id',
          [params.id],
        ),
      );
      return { comments: rows.map((r) => ({ commentId: r.comment_id, authorId: r.author_id, text: r.text, createdAt: r.created_at })) };
    },
  });
}
