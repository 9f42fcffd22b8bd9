import type { App, SqlTx } from '@herald/core';
import { CommentCreated, GROUPS, PostCreated, PostDeleted, UserFollowed, UserRegistered, type LANGUAGES } from '../events.js';

const WELCOME: Readonly<Record<(typeof LANGUAGES)[number], (username: string) => string>> = {
  en: (username) => `Welcome, ${username}!`,
  ru: (username) => `Добро пожаловать, ${username}!`,
};

/** Kinds of notification. */
export const NOTIFICATION_TYPES = ['WELCOME', 'NEW_POST', 'NEW_COMMENT'] as const;

/**
 * notification (seed 002's Notification Service): a welcome on `user.registered`, the author's
 * followers told of each post published after they followed, a post's author told of each
 * `comment.created` by someone else. Follows and posts come on different topics, so either may
 * arrive first: it keeps both (followers with the time they followed, posts with the time they
 * were published), and whichever arrives second sends what the pair calls for, so the outcome does
 * not depend on the order. Both handlers first lock the author's row, so on PostgreSQL a follow
 * and a post of one author handled at once cannot each miss the other. Each notification's id
 * comes from what it is about (`post:<postId>:<userId>`, …), so one is never written twice,
 * whatever is delivered or redriven again. A deleted post is told of no more: not to a follower
 * whose follow arrives later, nor its comments to its author, nor at all when `post.deleted`
 * arrives before `post.created` (other topics).
 */
export function registerNotificationService(app: App<SqlTx>): void {
  const group = GROUPS.notification;
  const notify = (tx: SqlTx, id: string, userId: string, type: (typeof NOTIFICATION_TYPES)[number], text: string, correlationId: string) =>
    tx.execute('INSERT INTO notifications (notification_id, user_id, type, text, correlation_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (notification_id) DO NOTHING', [
      id,
      userId,
      type,
      text,
      correlationId,
      app.clock.now(),
    ]);
  const lockAuthor = (tx: SqlTx, authorId: string) =>
    tx.execute('INSERT INTO notification_authors (author_id) VALUES ($1) ON CONFLICT (author_id) DO UPDATE SET author_id = excluded.author_id', [authorId]);

  const deleted = async (tx: SqlTx, postId: string) => (await tx.query('SELECT 1 FROM notification_deleted_posts WHERE post_id = $1', [postId])).length > 0;

  app.on(PostDeleted, { group }, async (event, ctx) => {
    const { postId, authorId } = event.data;
    // the author's row first, as the follow and post handlers take it: none of them misses the deletion
    await lockAuthor(ctx.tx, authorId);
    await ctx.tx.execute('INSERT INTO notification_deleted_posts (post_id) VALUES ($1) ON CONFLICT (post_id) DO NOTHING', [postId]);
  });

  // version 2: a version 1 event (no language) comes upcast, as English
  app.on(UserRegistered, { group }, async (event, ctx) => {
    const { userId, username, language } = event.data;
    await notify(ctx.tx, `welcome:${userId}`, userId, 'WELCOME', WELCOME[language](username), event.correlationId);
    ctx.logger.info('notified', { status: 'notified', type: 'WELCOME', users: 1 });
  });

  app.on(UserFollowed, { group }, async (event, ctx) => {
    const { userId, authorId, followedAt } = event.data;
    await lockAuthor(ctx.tx, authorId);
    await ctx.tx.execute('INSERT INTO notification_followers (author_id, user_id, followed_at) VALUES ($1, $2, $3) ON CONFLICT (author_id, user_id) DO NOTHING', [authorId, userId, followedAt]);
    // the first follow's time counts (a follow repeated later moves nothing)
    const [since] = await ctx.tx.query<{ followed_at: number }>('SELECT followed_at FROM notification_followers WHERE author_id = $1 AND user_id = $2', [authorId, userId]);
    // posts of the author published since the follow, which arrived before it
    const posts = await ctx.tx.query<{ post_id: string; title: string; correlation_id: string }>(
      `SELECT post_id, title, correlation_id FROM notification_posts p
       WHERE author_id = $1 AND created_at >= $2 AND NOT EXISTS (SELECT 1 FROM notification_deleted_posts d WHERE d.post_id = p.post_id)
       ORDER BY created_at, post_id`,
      [
        authorId,
        since!.followed_at,
      ],
    );
    // the post's correlation id: the notification is about the post, whichever event came second
    for (const post of posts) await notify(ctx.tx, `post:${post.post_id}:${userId}`, userId, 'NEW_POST', `New post: ${post.title}`, post.correlation_id);
  });

  app.on(PostCreated, { group }, async (event, ctx) => {
    const { postId, authorId, title, createdAt } = event.data;
    await lockAuthor(ctx.tx, authorId);
    await ctx.tx.execute('INSERT INTO notification_posts (post_id, author_id, title, correlation_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (post_id) DO NOTHING', [
      postId,
      authorId,
      title,
      event.correlationId,
      createdAt,
    ]);
    if (await deleted(ctx.tx, postId)) return;
    const followers = await ctx.tx.query<{ user_id: string }>('SELECT user_id FROM notification_followers WHERE author_id = $1 AND followed_at <= $2 ORDER BY user_id', [authorId, createdAt]);
    for (const { user_id: userId } of followers) {
      await notify(ctx.tx, `post:${postId}:${userId}`, userId, 'NEW_POST', `New post: ${title}`, event.correlationId);
    }
    ctx.logger.info('notified', { status: 'notified', type: 'NEW_POST', users: followers.length });
  });

  app.on(CommentCreated, { group }, async (event, ctx) => {
    const { commentId, postId, postAuthorId, authorId, postTitle } = event.data;
    if (authorId === postAuthorId || (await deleted(ctx.tx, postId))) return;
    await notify(ctx.tx, `comment:${commentId}`, postAuthorId, 'NEW_COMMENT', `New comment on ${postTitle}`, event.correlationId);
    ctx.logger.info('notified', { status: 'notified', type: 'NEW_COMMENT', users: 1 });
  });
}
