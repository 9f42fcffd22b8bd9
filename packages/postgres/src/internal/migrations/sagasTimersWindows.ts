import type { Migration } from './migration.js';

/** Versions 8-9: the tables of the stores that came after the outbox: timers, sagas, window state. */
export const SAGAS_TIMERS_WINDOWS: readonly Migration[] = [
  {
    version: 8,
    name: 'timers and saga instances',
    // Durable timers: an event scheduled for later waits in `timers` (its outbox record in the
    // outbox's own columns) until a scheduler moves it into the outbox; schedulers take due rows
    // with FOR UPDATE SKIP LOCKED, oldest due first through `timers_due` (`seq` orders equal due
    // times as scheduled). Saga instances: one row per (saga, instance), the state as JSON text,
    // `version` for compare-and-set saves; `sagas_status` lets tools count and list by status.
    sql: (t) => `
      CREATE TABLE ${t.timers} (
        seq            bigserial PRIMARY KEY,
        timer_id       text NOT NULL UNIQUE,
        due_at         bigint NOT NULL,
        id             text NOT NULL,
        topic          text NOT NULL,
        key            text NOT NULL,
        type           text NOT NULL,
        correlation_id text NOT NULL,
        value          text NOT NULL,
        headers        text NOT NULL,
        created_at     bigint NOT NULL
      );
      CREATE INDEX timers_due ON ${t.timers} (due_at, seq);
      CREATE TABLE ${t.sagas} (
        saga        text NOT NULL,
        instance_id text NOT NULL,
        status      text NOT NULL,
        version     integer NOT NULL CHECK (version > 0),
        state       text NOT NULL,
        created_at  bigint NOT NULL,
        updated_at  bigint NOT NULL,
        PRIMARY KEY (saga, instance_id)
      );
      CREATE INDEX sagas_status ON ${t.sagas} (saga, status, updated_at);
      `,
  },
  {
    version: 9,
    name: 'window state',
    // The stream package's aggregations: each partition's stream time and late count (its row is
    // the lock an update takes), and the open windows by key and start; closing reads a
    // partition's windows by close time.
    sql: (t) => `
      CREATE TABLE ${t.windowPartitions} (
        store       text NOT NULL,
        partition   integer NOT NULL,
        stream_time bigint,
        late        bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (store, partition)
      );
      CREATE TABLE ${t.windows} (
        store     text NOT NULL,
        partition integer NOT NULL,
        key       text NOT NULL,
        start_at  bigint NOT NULL,
        end_at    bigint NOT NULL,
        close_at  bigint NOT NULL,
        value     text NOT NULL,
        PRIMARY KEY (store, partition, key, start_at)
      );
      CREATE INDEX windows_close ON ${t.windows} (store, partition, close_at);
    `,
  },
];
