import { HeraldError, uuidv7 } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import type { Gateway } from '@herald/http';
import { Type } from '@sinclair/typebox';
import { ArtistCreated, ArtistUpdated, LANGUAGES, UserFollowed, UserRegistered } from '../events.js';
import { API_ERRORS, Id, IdParams, NO_NUL, NOT_BLANK } from './apiSchemas.js';
import { registerPostRoutes } from './postRoutes.js';
import { searchIndex } from './search.js';

export { API_ERRORS, API_ERROR_KINDS } from './apiSchemas.js';

// an artist's name and genre name something: a blank one could never be searched for, and its posts
// would carry it (a bio may be empty)
const Name = Type.String({ minLength: 1, maxLength: 200, pattern: NOT_BLANK });
const RegisterBody = Type.Object(
  {
    username: Type.String({ minLength: 3, maxLength: 50, pattern: '^[A-Za-z0-9_.-]+$' }),
    email: Type.String({ format: 'email', maxLength: 254 }),
    // the welcome's language; English when not given
    language: Type.Optional(Type.Union(LANGUAGES.map((l) => Type.Literal(l)))),
  },
  { additionalProperties: false },
);
const FollowBody = Type.Object({ authorId: Id }, { additionalProperties: false });
const ArtistBody = Type.Object({ name: Name, genre: Type.String({ minLength: 1, maxLength: 100, pattern: NOT_BLANK }), bio: Type.String({ maxLength: 5_000, pattern: NO_NUL }) }, { additionalProperties: false });
const ArtistPatch = Type.Partial(ArtistBody, { additionalProperties: false });
const SearchQuery = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: 500, pattern: NO_NUL }),
    kind: Type.Optional(Type.Union([Type.Literal('post'), Type.Literal('artist')])),
    /** 1 to 100, default 20 (a query string holds text: digits, checked here). */
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]?|100)$' })),
  },
  { additionalProperties: false },
);

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
  const read = <T>(work: (tx: SqlTx) => Promise<T>) => app.read(work);
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
      await publish(UserRegistered, { userId, username: body.username, email: body.email, registeredAt, language: body.language ?? 'en' });
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
      // one statement reads the row, writes it and takes the next version, so concurrent edits each
      // get their own on SQLite (one shared connection) as on PostgreSQL (the row's lock)
      const [next] = await tx.query<{ name: string; genre: string; bio: string; version: number; updated_at: number }>(
        `UPDATE artists SET name = COALESCE($1, name), genre = COALESCE($2, genre), bio = COALESCE($3, bio), version = version + 1, updated_at = $4
         WHERE artist_id = $5 RETURNING name, genre, bio, version, updated_at`,
        [body.name ?? null, body.genre ?? null, body.bio ?? null, now(), params.id],
      );
      if (!next) throw new HeraldError(API_ERRORS.artistNotFound, `no artist ${params.id}`);
      await publish(ArtistUpdated, { artistId: params.id, name: next.name, genre: next.genre, bio: next.bio, version: next.version, updatedAt: next.updated_at });
      return { artistId: params.id, version: next.version };
    },
  });

  gateway.query({
    url: '/artists/:id',
    params: IdParams,
    handle: async ({ params }) => {
      const [row] = await read((tx) => tx.query<{ artist_id: string; name: string; genre: string; bio: string; version: number }>('SELECT * FROM artists WHERE artist_id = $1', [params.id]));
      if (!row) throw new HeraldError(API_ERRORS.artistNotFound, `no artist ${params.id}`);
      return { artistId: row.artist_id, name: row.name, genre: row.genre, bio: row.bio, version: row.version };
    },
  });

  registerPostRoutes(gateway, app);

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
        tx.query<{ notification_id: string; type: string; text: string; correlation_id: string | null; created_at: number }>(
          'SELECT notification_id, type, text, correlation_id, created_at FROM notifications WHERE user_id = $1 ORDER BY created_at, notification_id',
          [params.id],
        ),
      );
      return {
        notifications: rows.map((r) => ({ notificationId: r.notification_id, type: r.type, text: r.text, correlationId: r.correlation_id, createdAt: r.created_at })),
      };
    },
  });
}
