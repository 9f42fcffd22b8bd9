import type { App, SqlTx } from '@herald/core';
import { GROUPS, PostCreated, PostDeleted, PostUpdated } from '../events.js';

/**
 * comment (seed 002: `post.deleted` → Comment Service): keeps what it needs of the posts (author,
 * title, version, deleted or not) from the post events, so the api's comment route can refuse a
 * comment on a post that is gone without asking content; when a post is deleted, its comments go.
 * Versions guard every change, as in search.
 */
export function registerCommentService(app: App<SqlTx>): void {
  const known = async (tx: SqlTx, post: { postId: string; authorId: string; title: string; version: number }) => {
    await tx.execute(
      `INSERT INTO comment_posts (post_id, author_id, title, version, deleted) VALUES ($1, $2, $3, $4, 0)
       ON CONFLICT (post_id) DO UPDATE SET title = excluded.title, version = excluded.version WHERE comment_posts.version < excluded.version`,
      [post.postId, post.authorId, post.title, post.version],
    );
  };
  app.on(PostCreated, { group: GROUPS.comment }, async (event, ctx) => {
    await known(ctx.tx, event.data);
  });
  app.on(PostUpdated, { group: GROUPS.comment }, async (event, ctx) => {
    await known(ctx.tx, event.data);
  });
  app.on(PostDeleted, { group: GROUPS.comment }, async (event, ctx) => {
    const { postId, authorId, version } = event.data;
    await ctx.tx.execute(
      `INSERT INTO comment_posts (post_id, author_id, title, version, deleted) VALUES ($1, $2, '', $3, 1)
       ON CONFLICT (post_id) DO UPDATE SET version = excluded.version, deleted = 1 WHERE comment_posts.version < excluded.version`,
      [postId, authorId, version],
    );
    const removed = await ctx.tx.execute('DELETE FROM comments WHERE post_id = $1', [postId]);
    ctx.logger.info('comments of a deleted post removed', { status: 'removed', postId, comments: removed });
  });
}
