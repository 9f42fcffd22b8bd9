import type { Migration } from './migration.js';

/**
 * Versions 1-2: the first release's tables (the outbox with its per-key claims, the inbox, dead
 * letters, idempotency keys), and the outbox index it turned out not to need.
 */
export const FIRST_SCHEMA: readonly Migration[] = [
  {
    version: 1,
    name: 'outbox, claims, inbox, dead letters, idempotency keys',
    sql: (t) => `
      CREATE TABLE ${t.outbox} (
        seq            bigserial PRIMARY KEY,
        id             text NOT NULL UNIQUE,
        topic          text NOT NULL,
        key            text NOT NULL,
        type           text NOT NULL,
        correlation_id text NOT NULL,
        value          text NOT NULL,
        headers        text NOT NULL,
        created_at     bigint NOT NULL,
        published_at   bigint
      );
      -- the relay's scan: pending rows in append order, and each key's earliest pending row
      CREATE INDEX outbox_pending_seq ON ${t.outbox} (seq) WHERE published_at IS NULL;
      CREATE INDEX outbox_pending_key ON ${t.outbox} (topic, key, seq) WHERE published_at IS NULL;
      CREATE INDEX outbox_correlation ON ${t.outbox} (correlation_id, seq);
      CREATE INDEX outbox_published ON ${t.outbox} (published_at) WHERE published_at IS NOT NULL;

      -- one row per (topic, key) a relay currently holds
      CREATE TABLE ${t.outboxClaims} (
        topic      text NOT NULL,
        key        text NOT NULL,
        relay_id   text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (topic, key)
      );

      CREATE TABLE ${t.inbox} (
        event_id   text NOT NULL,
        group_name text NOT NULL,
        handled_at bigint NOT NULL,
        PRIMARY KEY (event_id, group_name)
      );

      CREATE TABLE ${t.deadLetters} (
        seq              bigserial PRIMARY KEY,
        id               text NOT NULL UNIQUE,
        group_name       text NOT NULL,
        handler          text NOT NULL,
        event_id         text,
        event_type       text,
        topic            text NOT NULL,
        partition        integer NOT NULL,
        log_offset       bigint NOT NULL,
        key              text NOT NULL,
        reason           text NOT NULL,
        error            text NOT NULL,
        attempts         integer NOT NULL,
        first_failure_at bigint NOT NULL,
        last_failure_at  bigint NOT NULL,
        envelope         text NOT NULL,
        headers          text NOT NULL,
        policy           text NOT NULL CHECK (policy IN ('skip', 'park-key')),
        status           text NOT NULL CHECK (status IN ('dead', 'parked', 'redriven'))
      );
      CREATE INDEX dead_letters_group ON ${t.deadLetters} (group_name, seq);
      -- isKeyParked reads only this small index: the letters that currently hold a key back
      CREATE INDEX dead_letters_parked ON ${t.deadLetters} (group_name, topic, key)
        WHERE policy = 'park-key' AND status IN ('dead', 'parked');

      CREATE TABLE ${t.idempotency} (
        key         text PRIMARY KEY,
        fingerprint text NOT NULL,
        state       text NOT NULL CHECK (state IN ('in-flight', 'completed')),
        response    text,
        created_at  bigint NOT NULL,
        expires_at  bigint NOT NULL
      );
      CREATE INDEX idempotency_keys_expiry ON ${t.idempotency} (expires_at);
    `,
  },
  {
    version: 2,
    name: 'drop outbox_pending_key',
    // No statement needs it (claims find each key's head by seq), and the planner, given a generic
    // plan over an outbox that was empty when analysed, used it for the heads' seq lookups: a scan
    // of the whole index per key, 0.4 ms each. One index less also makes every append cheaper.
    sql: (t) => `DROP INDEX IF EXISTS ${t.schema}.outbox_pending_key;`,
  },
];
