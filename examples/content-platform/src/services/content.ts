import type { App, SqlTx } from '@herald/core';
import { ArtistCreated, ArtistUpdated, GROUPS, PostUpdated } from '../events.js';
import type { PostRow } from './postRoutes.js';

/**
 * content (seed 002: `artist.updated` → Content Service (cache)): keeps the artists' names the
 * posts carry, from the artist events, newest version wins. The api's post routes read this cache,
 * never the artist service's table; an artist created a moment ago is unknown here until its
 * event arrives. A rename reaches the artist's live posts too: each takes the new name as a new
 * version, published as `post.updated`, so search finds the posts by the artist's new name (and no
 * longer by the old one) and readers see it. A stale artist event changes nothing.
 */
export function registerContentService(app: App<SqlTx>): void {
  const cache = (tx: SqlTx, artist: { artistId: string; name: string; version: number }): Promise<number> =>
    tx.execute(
      `INSERT INTO content_artists (artist_id, name, version) VALUES ($1, $2, $3)
       ON CONFLICT (artist_id) DO UPDATE SET name = excluded.name, version = excluded.version WHERE content_artists.version < excluded.version`,
      [artist.artistId, artist.name, artist.version],
    );
  app.on(ArtistCreated, { group: GROUPS.content }, async (event, ctx) => {
    await cache(ctx.tx, event.data);
  });
  app.on(ArtistUpdated, { group: GROUPS.content }, async (event, ctx) => {
    const { artistId, name } = event.data;
    if ((await cache(ctx.tx, event.data)) === 0) return;
    // one statement per post row: a concurrent edit of a post (which locks its row first) waits for
    // this transaction or is seen done, so every change keeps its own version
    const renamed = await ctx.tx.query<PostRow & { artist_id: string; artist_name: string }>(
      `UPDATE content_posts SET artist_name = $1, version = version + 1, updated_at = $2
       WHERE artist_id = $3 AND deleted = 0 AND artist_name <> $1
       RETURNING post_id, author_id, artist_id, artist_name, title, content, slug, version, updated_at`,
      [name, app.clock.now(), artistId],
    );
    for (const post of renamed) {
      await ctx.publish(PostUpdated, {
        postId: post.post_id,
        authorId: post.author_id,
        artistId: post.artist_id,
        artistName: post.artist_name,
        title: post.title,
        content: post.content,
        slug: post.slug,
        version: post.version,
        updatedAt: post.updated_at,
      });
    }
    if (renamed.length > 0) ctx.logger.info('artist renamed in its posts', { artistId, posts: renamed.length });
  });
}
