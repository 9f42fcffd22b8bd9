import type { SqlTx, TransactionRunner } from '@herald/core';
import { applySchema, type EngineKind } from '@herald/engine';

/**
 * Each service's tables, in the SQL common to SQLite and PostgreSQL (seed 002's ADR-002, database
 * per service: the services share one database file or server here, but each reads and writes only
 * its own tables; what one needs of another's data it keeps from the events).
 */
export const SCHEMA: readonly string[] = [
  // auth
  `CREATE TABLE IF NOT EXISTS auth_users (
     user_id TEXT PRIMARY KEY,
     username TEXT NOT NULL UNIQUE,
     email TEXT NOT NULL,
     registered_at BIGINT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS auth_follows (
     user_id TEXT NOT NULL,
     author_id TEXT NOT NULL,
     followed_at BIGINT NOT NULL,
     PRIMARY KEY (user_id, author_id)
   )`,
  // artist
  `CREATE TABLE IF NOT EXISTS artists (
     artist_id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     genre TEXT NOT NULL,
     bio TEXT NOT NULL,
     version INTEGER NOT NULL,
     updated_at BIGINT NOT NULL
   )`,
  // content: its posts, and its cache of the artists (from artist.created / artist.updated)
  `CREATE TABLE IF NOT EXISTS content_posts (
     post_id TEXT PRIMARY KEY,
     author_id TEXT NOT NULL,
     artist_id TEXT,
     artist_name TEXT,
     title TEXT NOT NULL,
     content TEXT NOT NULL,
     slug TEXT NOT NULL UNIQUE,
     version INTEGER NOT NULL,
     deleted INTEGER NOT NULL DEFAULT 0,
     updated_at BIGINT NOT NULL
   )`,
  // the posts of an artist, for a rename
  `CREATE INDEX IF NOT EXISTS content_posts_artist ON content_posts (artist_id)`,
  `CREATE TABLE IF NOT EXISTS content_artists (
     artist_id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     version INTEGER NOT NULL
   )`,
  // comment: its comments, and what it knows of the posts (from the post events)
  `CREATE TABLE IF NOT EXISTS comment_posts (
     post_id TEXT PRIMARY KEY,
     author_id TEXT NOT NULL,
     title TEXT NOT NULL,
     version INTEGER NOT NULL,
     deleted INTEGER NOT NULL DEFAULT 0
   )`,
  `CREATE TABLE IF NOT EXISTS comments (
     comment_id TEXT PRIMARY KEY,
     post_id TEXT NOT NULL,
     author_id TEXT NOT NULL,
     text TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS comments_post ON comments (post_id, created_at)`,
  // search: one document per post or artist (a deleted post stays as a tombstone with its version,
  // so a late copy of an older event cannot bring it back), and the words that find it
  `CREATE TABLE IF NOT EXISTS search_documents (
     kind TEXT NOT NULL,
     doc_id TEXT NOT NULL,
     version INTEGER NOT NULL,
     title TEXT NOT NULL,
     summary TEXT NOT NULL,
     deleted INTEGER NOT NULL DEFAULT 0,
     indexed_at BIGINT NOT NULL,
     PRIMARY KEY (kind, doc_id)
   )`,
  `CREATE TABLE IF NOT EXISTS search_terms (
     term TEXT NOT NULL,
     kind TEXT NOT NULL,
     doc_id TEXT NOT NULL,
     PRIMARY KEY (term, kind, doc_id)
   )`,
  `CREATE INDEX IF NOT EXISTS search_terms_doc ON search_terms (kind, doc_id)`,
  `CREATE TABLE IF NOT EXISTS search_meta (
     name TEXT PRIMARY KEY,
     value BIGINT NOT NULL
   )`,
  // notification: who follows whom since when (from user.followed), the posts it has seen (from
  // post.created), a row per author its handlers lock, and each user's inbox
  `CREATE TABLE IF NOT EXISTS notification_followers (
     author_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     followed_at BIGINT NOT NULL,
     PRIMARY KEY (author_id, user_id)
   )`,
  `CREATE TABLE IF NOT EXISTS notification_posts (
     post_id TEXT PRIMARY KEY,
     author_id TEXT NOT NULL,
     title TEXT NOT NULL,
     correlation_id TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS notification_posts_author ON notification_posts (author_id, created_at)`,
  // posts deleted, as notification learns it (post.deleted may come before post.created: other topics)
  `CREATE TABLE IF NOT EXISTS notification_deleted_posts (
     post_id TEXT PRIMARY KEY
   )`,
  `CREATE TABLE IF NOT EXISTS notification_authors (
     author_id TEXT PRIMARY KEY
   )`,
  `CREATE TABLE IF NOT EXISTS notifications (
     notification_id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     type TEXT NOT NULL,
     text TEXT NOT NULL,
     correlation_id TEXT,
     created_at BIGINT NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS notifications_user ON notifications (user_id, created_at)`,
];

/** Creates the tables if missing; safe from every process at start, on either engine. */
export async function migrate(stores: TransactionRunner<SqlTx>, engine: EngineKind): Promise<void> {
  await applySchema(stores, SCHEMA, { engine, lockName: 'herald-examples:content-platform:schema' });
}
