import type { App, SqlTx } from '@herald/core';
import { ArtistCreated, ArtistUpdated, GROUPS } from '../events.js';

/**
 * content (seed 002: `artist.updated` → Content Service (cache)): keeps the artists' names the
 * posts carry, from the artist events, newest version wins. The api's post routes read this cache,
 * never the artist service's table; an artist created a moment ago is unknown here until its
 * event arrives.
 */
export function registerContentService(app: App<SqlTx>): void {
  const cache = async (tx: SqlTx, artist: { artistId: string; name: string; version: number }) => {
    await tx.execute(
      `INSERT INTO content_artists (artist_id, name, version) VALUES ($1, $2, $3)
       ON CONFLICT (artist_id) DO UPDATE SET name = excluded.name, version = excluded.version WHERE content_artists.version < excluded.version`,
      [artist.artistId, artist.name, artist.version],
    );
  };
  app.on(ArtistCreated, { group: GROUPS.content }, async (event, ctx) => {
    await cache(ctx.tx, event.data);
  });
  app.on(ArtistUpdated, { group: GROUPS.content }, async (event, ctx) => {
    await cache(ctx.tx, event.data);
  });
}
