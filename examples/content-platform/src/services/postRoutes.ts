import { HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import type { Gateway } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { CommentCreated, PostCreated, PostDeleted, PostUpdated } from '../events.js';
import { slugOf } from '../text.js';
import { API_ERRORS, Id, IdParams, NO_NUL, NOT_BLANK } from './apiSchemas.js';

const TITLE_MAX_LENGTH = 300;
const CONTENT_MAX_LENGTH = 50_000;
const Title = Type.String({ minLength: 1, maxLength: TITLE_MAX_LENGTH, pattern: NOT_BLANK });
const Content = Type.String({ minLength: 1, maxLength: CONTENT_MAX_LENGTH, pattern: NOT_BLANK });
const PostBody = Type.Object({ authorId: Id, artistId: Type.Optional(Type.Union([Id, Type.Null()])), title: Title, content: Content }, { additionalProperties: false });
const PostPatch = Type.Object({ artistId: Type.Optional(Type.Union([Id, Type.Null()])), title: Type.Optional(Title), content: Type.Optional(Content) }, { additionalProperties: false });
const CommentBody = Type.Object({ authorId: Id, text: Type.String({ minLength: 1, maxLength: 5_000, pattern: NO_NUL }) }, { additionalProperties: false });

/**
 * The gateway's body limit: a post of the longest title and content the schema takes fits however
 * it is written, each character (a UTF-16 unit, as `maxLength` counts them) up to 6 bytes as a JSON
 * `\uXXXX` escape (4 in UTF-8), with room for the ids and the JSON around them.
 */
export const POST_BODY_LIMIT_BYTES = (TITLE_MAX_LENGTH + CONTENT_MAX_LENGTH) * 6 + 4 * 1024;

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
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.read(work);
  const now = () => app.clock.now();

  /** Refuses an author auth does not know (the gateway's check, as a token's subject would be). */
  const knownUser = async (tx: SqlTx, userId: string): Promise<void> => {
    const [user] = await tx.query('SELECT 1 FROM auth_users WHERE user_id = $1', [userId]);
    if (!user) throw new HeraldError(API_ERRORS.userNotFound, `no user ${userId}`);
  };

  // content
  /**
   * Refuses an artist content's cache has not heard of (yet), after writing its row: on PostgreSQL
   * that locks it, and content's rename writes that row before renaming the posts, so a rename
   * being applied is waited for (its name then read), or waits for this post and renames it too.
   * Without it, a post read the old name while the rename, not seeing the uncommitted post, renamed
   * the others: that post kept the old name for good. (SQLite runs each statement alone: the
   * statement that writes the post reads the name itself.)
   */
  const lockArtist = async (tx: SqlTx, artistId: string | null): Promise<void> => {
    if (artistId === null) return;
    const known = await tx.execute('UPDATE content_artists SET version = version WHERE artist_id = $1', [artistId]);
    if (known === 0) throw new HeraldError(API_ERRORS.unknownArtist, `artist ${artistId} is not known to content (an artist created a moment ago is known within moments)`);
  };
  const postNotFound = (postId: string) => new HeraldError(API_ERRORS.postNotFound, `no post ${postId}`);
  /** The post, unless deleted. */
  const livePost = async (tx: SqlTx, postId: string): Promise<PostRow> => {
    const [row] = await tx.query<PostRow>('SELECT * FROM content_posts WHERE post_id = $1 AND deleted = 0', [postId]);
    if (!row) throw postNotFound(postId);
    return row;
  };
  const POST_COLUMNS = 'post_id, author_id, artist_id, artist_name, title, content, slug, version, updated_at';

  gateway.command({
    method: 'POST',
    url: '/posts',
    body: PostBody,
    status: 201,
    handle: async ({ body, tx, publish, logger }) => {
      await knownUser(tx, body.authorId);
      const postId = uuidv7();
      const artistId = body.artistId ?? null;
      await lockArtist(tx, artistId);
      const createdAt = now();
      const slug = slugOf(body.title, postId);
      const [row] = await tx.query<{ artist_name: string | null }>(
        `INSERT INTO content_posts (post_id, author_id, artist_id, artist_name, title, content, slug, version, deleted, updated_at)
         VALUES ($1, $2, $3, (SELECT name FROM content_artists WHERE artist_id = $3), $4, $5, $6, 1, 0, $7) RETURNING artist_name`,
        [postId, body.authorId, artistId, body.title, body.content, slug, createdAt],
      );
      const post = { postId, authorId: body.authorId, artistId, artistName: row!.artist_name, title: body.title, content: body.content, slug, version: 1 };
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
      const artistChanged = body.artistId !== undefined;
      if (artistChanged) {
        // a deleted post is not found before its new artist is checked
        await livePost(tx, params.id);
        await lockArtist(tx, body.artistId ?? null);
      }
      // One statement reads the row, writes it and takes the next version: concurrent edits on
      // SQLite (one connection, see @herald/sqlite's README) and on PostgreSQL (the row's lock) each
      // get their own version, and none lands on a deleted post. The artist's name is read from
      // content's cache in the same statement, so a rename applied meanwhile is not overwritten.
      const [row] = await tx.query<PostRow>(
        `UPDATE content_posts SET title = COALESCE($1, title), content = COALESCE($2, content),
           artist_id = CASE WHEN $3 = 1 THEN $4 ELSE artist_id END,
           artist_name = CASE WHEN $3 = 1 THEN (SELECT name FROM content_artists WHERE artist_id = $4) ELSE artist_name END,
           version = version + 1, updated_at = $5
         WHERE post_id = $6 AND deleted = 0
         RETURNING ${POST_COLUMNS}`,
        [body.title ?? null, body.content ?? null, artistChanged ? 1 : 0, body.artistId ?? null, now(), params.id],
      );
      if (!row) throw postNotFound(params.id);
      const post = { postId: row.post_id, authorId: row.author_id, artistId: row.artist_id, artistName: row.artist_name, title: row.title, content: row.content, slug: row.slug, version: row.version };
      await publish(PostUpdated, { ...post, updatedAt: row.updated_at });
      logger.info('published', { event: PostUpdated.topic, status: 'published', postId: post.postId, version: post.version });
      return { postId: post.postId, version: post.version };
    },
  });

  gateway.command({
    method: 'DELETE',
    url: '/posts/:id',
    params: IdParams,
    handle: async ({ params, tx, publish, logger }) => {
      // one statement, as the edit: the deletion takes the next version, after every edit before it
      const [row] = await tx.query<{ author_id: string; version: number; updated_at: number }>(
        'UPDATE content_posts SET deleted = 1, version = version + 1, updated_at = $1 WHERE post_id = $2 AND deleted = 0 RETURNING author_id, version, updated_at',
        [now(), params.id],
      );
      if (!row) throw postNotFound(params.id);
      const { version } = row;
      await publish(PostDeleted, { postId: params.id, authorId: row.author_id, version, deletedAt: row.updated_at });
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
      // On PostgreSQL this write locks comment's row of the post: a deletion being applied waits
      // for this transaction (and then removes its comment) or is seen done. On SQLite it locks
      // nothing (concurrent transactions share one connection), so the insert below is conditional:
      // it lands only while the post is live, and a deletion applied after it removes the comment.
      await tx.execute('UPDATE comment_posts SET deleted = 0 WHERE post_id = $1 AND deleted = 0', [params.id]);
      await knownUser(tx, body.authorId);
      const missing = () => new HeraldError(API_ERRORS.postNotFound, `no post ${params.id} (a post published a moment ago can be commented on within moments)`);
      const [post] = await tx.query<{ author_id: string; title: string }>('SELECT author_id, title FROM comment_posts WHERE post_id = $1 AND deleted = 0', [params.id]);
      if (!post) throw missing();
      const commentId = uuidv7();
      const createdAt = now();
      const inserted = await tx.execute(
        'INSERT INTO comments (comment_id, post_id, author_id, text, created_at) SELECT $1, post_id, $2, $3, $4 FROM comment_posts WHERE post_id = $5 AND deleted = 0',
        [commentId, body.authorId, body.text, createdAt, params.id],
      );
      if (inserted !== 1) throw missing();
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
