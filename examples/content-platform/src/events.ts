import { defineEvent } from '@herald/core';
import type { TopicSpec } from '@herald/core';
import { Type } from '@sinclair/typebox';

// Seed 002's events, on the topics of its table (ADR-003). A post's events are keyed by its id, so
// created, updated and deleted of one post stay in order on their topics' partitions, and each
// carries the post's version: a consumer that sees a version not above the one it holds (a replay,
// a redrive, a late copy) leaves its state as it is. Every event carries the state its consumers
// need (event-carried state transfer): search and notification never call the services back.

const Id = Type.String({ minLength: 1, maxLength: 100 });
const Version = Type.Integer({ minimum: 1 });
const Time = Type.Integer();

/** The languages a welcome is written in. */
export const LANGUAGES = ['en', 'ru'] as const;

/** auth, before version 2: a user registered; every user was welcomed in English. */
export const UserRegisteredV1 = defineEvent({
  type: 'UserRegistered',
  topic: 'user.registered',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Id, username: Type.String(), email: Type.String(), registeredAt: Time }),
});

/**
 * auth: a user registered (notification says welcome, in the user's language). Version 2 added the
 * language; a version 1 event — in the log from before, or from an auth process not upgraded yet
 * (consumers are deployed first) — reaches version 2's handlers upcast, as English.
 */
export const UserRegistered = defineEvent({
  type: 'UserRegistered',
  version: 2,
  topic: 'user.registered',
  key: (d) => d.userId,
  schema: Type.Object({ userId: Id, username: Type.String(), email: Type.String(), registeredAt: Time, language: Type.Union(LANGUAGES.map((l) => Type.Literal(l))) }),
  upcast: { from: UserRegisteredV1, data: (v1) => ({ ...v1, language: 'en' as const }) },
});

/** auth: a user follows an author (notification tells followers of the author's new posts). */
export const UserFollowed = defineEvent({
  type: 'UserFollowed',
  topic: 'user.followed',
  key: (d) => d.authorId,
  schema: Type.Object({ userId: Id, authorId: Id, followedAt: Time }),
});

const ArtistState = {
  artistId: Id,
  name: Type.String(),
  genre: Type.String(),
  bio: Type.String(),
  version: Version,
};

/** artist: a new artist (search indexes it, content caches it). */
export const ArtistCreated = defineEvent({
  type: 'ArtistCreated',
  topic: 'artist.created',
  key: (d) => d.artistId,
  schema: Type.Object({ ...ArtistState, createdAt: Time }),
});

/** artist: an artist changed; the whole new state (content's cache, search). */
export const ArtistUpdated = defineEvent({
  type: 'ArtistUpdated',
  topic: 'artist.updated',
  key: (d) => d.artistId,
  schema: Type.Object({ ...ArtistState, updatedAt: Time }),
});

const PostState = {
  postId: Id,
  authorId: Id,
  artistId: Type.Union([Id, Type.Null()]),
  /** The artist's name as content's cache had it when the post was written. */
  artistName: Type.Union([Type.String(), Type.Null()]),
  title: Type.String(),
  content: Type.String(),
  slug: Type.String(),
  version: Version,
};

/** content: a post was published, whole (search indexes it, notification tells the author's followers). */
export const PostCreated = defineEvent({
  type: 'PostCreated',
  topic: 'post.created',
  key: (d) => d.postId,
  schema: Type.Object({ ...PostState, createdAt: Time }),
});

/** content: a post changed; its whole new state and version (search). */
export const PostUpdated = defineEvent({
  type: 'PostUpdated',
  topic: 'post.updated',
  key: (d) => d.postId,
  schema: Type.Object({ ...PostState, updatedAt: Time }),
});

/** content: a post was deleted, at this version (search drops it, comment drops its comments). */
export const PostDeleted = defineEvent({
  type: 'PostDeleted',
  topic: 'post.deleted',
  key: (d) => d.postId,
  schema: Type.Object({ postId: Id, authorId: Id, version: Version, deletedAt: Time }),
});

/** comment: a comment on a post (notification tells the post's author). */
export const CommentCreated = defineEvent({
  type: 'CommentCreated',
  topic: 'comment.created',
  key: (d) => d.postId,
  schema: Type.Object({ commentId: Id, postId: Id, postAuthorId: Id, postTitle: Type.String(), authorId: Id, text: Type.String(), createdAt: Time }),
});

/** Every event type of the example, registered in each process. */
export const EVENTS = [UserRegistered, UserFollowed, ArtistCreated, ArtistUpdated, PostCreated, PostUpdated, PostDeleted, CommentCreated];

/**
 * Retention meaning "kept for ever" on every engine. A topic that declares none gets the engine's
 * default (7 days on the embedded log, the cluster's `retention.ms` on Kafka), and Kafka's -1 would
 * make the embedded log delete every record, so the longest age both take.
 */
export const KEPT_FOR_EVER_MS = Number.MAX_SAFE_INTEGER;

/**
 * The topics search builds its index from, which a rebuild reads from their first record
 * (see `prepareSearchIndex`): they keep every record. By age only: neither engine limits a topic's
 * size unless told to.
 */
export const SEARCH_SOURCE_TOPICS: readonly string[] = [PostCreated, PostUpdated, PostDeleted, ArtistCreated, ArtistUpdated].map((e) => e.topic);

/**
 * Topics with their partition counts, provisioned at start (seed 002's table: three partitions);
 * the search index's sources kept for ever, the others at the engine's default retention.
 */
export const TOPICS: readonly TopicSpec[] = EVENTS.map((e) =>
  SEARCH_SOURCE_TOPICS.includes(e.topic) ? { name: e.topic, partitions: 3, retentionMs: KEPT_FOR_EVER_MS } : { name: e.topic, partitions: 3 },
);

/** The consumer group of each consuming service (the seed's `search-indexer`). */
export const GROUPS = {
  content: 'content-service',
  comment: 'comment-service',
  notification: 'notification-service',
} as const;

/** The search service's group: `search-indexer`, or `search-indexer-<n>` for index generation n > 1. */
export function searchGroup(generation: number): string {
  return generation === 1 ? 'search-indexer' : `search-indexer-${generation}`;
}
