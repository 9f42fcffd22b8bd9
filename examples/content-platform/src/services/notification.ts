import type { App, SqlTx } from '@herald/core';
import { CommentCreated, GROUPS, PostCreated, UserFollowed, UserRegistered } from '../events.js';

/** Kinds of notification. */
export const NOTIFICATION_TYPES = ['WELCOME', 'NEW_POST', 'NEW_COMMENT'] as const;

/**
 * notification (seed 002's Notification Service): a welcome on `user.registered`, the author's
 * followers told of each `post.created`, a post's author told of each `comment.created` by someone
 * else. It keeps its own list of followers from `user.followed`: a follow that arrives after a post
 * misses that post (eventual consistency, as the seed accepts). Each notification's id comes from
 * what it is about (`post:<postId>:<userId>`, …), so one is never written twice, whatever is
 * delivered or redriven again.
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

  app.on(UserRegistered, { group }, async (event, ctx) => {
    const { userId, username } = event.data;
    await notify(ctx.tx, `welcome:${userId}`, userId, 'WELCOME', `Welcome, ${username}!`, event.correlationId);
    ctx.logger.info('notified', { status: 'notified', type: 'WELCOME', users: 1 });
  });

  app.on(UserFollowed, { group }, async (event, ctx) => {
    const { userId, authorId } = event.data;
    await ctx.tx.execute('INSERT INTO notification_followers (author_id, user_id) VALUES ($1, $2) ON CONFLICT (author_id, user_id) DO NOTHING', [authorId, userId]);
  });

  app.on(PostCreated, { group }, async (event, ctx) => {
    const { postId, authorId, title } = event.data;
    const followers = await ctx.tx.query<{ user_id: string }>('SELECT user_id FROM notification_followers WHERE author_id = $1 ORDER BY user_id', [authorId]);
    for (const { user_id: userId } of followers) {
      await notify(ctx.tx, `post:${postId}:${userId}`, userId, 'NEW_POST', `New post: ${title}`, event.correlationId);
    }
    ctx.logger.info('notified', { status: 'notified', type: 'NEW_POST', users: followers.length });
  });

  app.on(CommentCreated, { group }, async (event, ctx) => {
    const { commentId, postAuthorId, authorId, postTitle } = event.data;
    if (authorId === postAuthorId) return;
    await notify(ctx.tx, `comment:${commentId}`, postAuthorId, 'NEW_COMMENT', `New comment on ${postTitle}`, event.correlationId);
    ctx.logger.info('notified', { status: 'notified', type: 'NEW_COMMENT', users: 1 });
  });
}
