import type { Migration } from './migration.js';

/** Version 17: the outbox's watermark moves read by time. */
export const OUTBOX_MARKS_BY_TIME: readonly Migration[] = [
  {
    version: 17,
    name: 'watermark moves by time',
    // Relays record a watermark move per slot on every mark (outbox_marks), so the table holds one
    // row per slot and relay round for a whole `outboxRetentionMs`: millions at a steady load. The
    // retention sweep asks for the moves older than the retention (outbox/sweepOutbox.ts, both
    // statements), and the table's only index leads with the slot: each sweep of every process
    // read the whole table, twice (120 ms per 200,000 moves, every `sweepIntervalMs`), to find the
    // few it deletes. This index gives it only the old moves. Building it reads the table once and
    // holds back relays' marks meanwhile (a publish waits, then commits): on a large outbox_marks,
    // migrate when quiet.
    sql: (t) => `
      CREATE INDEX outbox_marks_published ON ${t.outboxMarks} (published_at);
    `,
  },
];
