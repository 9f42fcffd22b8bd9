import type { App, SqlTx } from '@herald/core';
import type { HeraldMetrics } from '@herald/metrics';
import { Gauge } from 'prom-client';

/** Name of the gauge of the posts deleted that comment still takes comments on. */
export const DELETED_COMMENTABLE_METRIC = 'content_posts_deleted_commentable';
/** Name of the gauge of how long the oldest of them has been deleted. */
export const DELETED_COMMENTABLE_AGE_METRIC = 'content_posts_deleted_commentable_oldest_age_seconds';

/**
 * Posts deleted in content's table (since `updated_at`, the deletion) that comment's copy still
 * has live: comment has not applied their `post.deleted`, so they keep their comments and accept
 * new ones (201). A post comment never heard of accepts none, so it is not counted.
 */
const COMMENTABLE = `FROM content_posts p
  JOIN comment_posts c ON c.post_id = p.post_id AND c.deleted = 0
  WHERE p.deleted = 1`;

/**
 * Seed 002's deletions that have not reached comment, read from content's and comment's tables at
 * each scrape, so they are exact across restarts and the same from every process (take `max`):
 * `content_posts_deleted_commentable` (how many) and
 * `content_posts_deleted_commentable_oldest_age_seconds` (how long the oldest has been deleted, 0
 * when none). A deletion applied in moments never shows for long; one whose `PostDeleted` the
 * comment service dead-lettered stays until someone redrives it, while the dead-letter alert stops
 * once the letter is 10 minutes old. Registered on the app's metrics registry, beside Herald's.
 */
export function registerBusinessMetrics(app: App<SqlTx>, metrics: HeraldMetrics): void {
  new Gauge({
    name: DELETED_COMMENTABLE_METRIC,
    help: 'Posts deleted in content\'s table that comment\'s copy still has live (so they keep their comments and take new ones), read from both services\' tables at scrape.',
    registers: [metrics.registry],
    async collect() {
      const [row] = await app.read((tx) => tx.query<{ n: number | string }>(`SELECT COUNT(*) AS n ${COMMENTABLE}`, []));
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: DELETED_COMMENTABLE_AGE_METRIC,
    help: 'Seconds since the oldest post deleted in content\'s table that comment\'s copy still has live was deleted (0 when none), read from both services\' tables at scrape.',
    registers: [metrics.registry],
    async collect() {
      const [row] = await app.read((tx) => tx.query<{ oldest: number | string | null }>(`SELECT MIN(p.updated_at) AS oldest ${COMMENTABLE}`, []));
      const since = row?.oldest;
      this.set(since === null || since === undefined ? 0 : Math.max(0, (app.clock.now() - Number(since)) / 1000));
    },
  });
}
