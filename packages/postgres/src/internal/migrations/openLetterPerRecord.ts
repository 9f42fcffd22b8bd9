import type { Migration } from './migration.js';

/** Version 16: one open dead letter per record and group. */
export const OPEN_LETTER_PER_RECORD: readonly Migration[] = [
  {
    version: 16,
    name: 'one open dead letter per record',
    // A record (topic, partition, offset and the event id read there) has at most one open letter
    // per group: an add for a record that has one adds nothing (addDeadLetter.ts looks for it through
    // dead_letters_open_records, its condition word for word). dead_letters_open_record keeps out the
    // letter of a concurrent add, which that look-up cannot see. A database may hold such
    // duplicates already (a record dead-lettered again after a redelivery, before this version):
    // each stays as it is, open, an accepted letter an operator may be acting on, and the unique
    // index covers the letters after the newest of them (all letters when there is none), so
    // building it never fails; adds still find the older ones through the look-up. Dead letters are
    // written rarely; building the indexes blocks their writes while it runs: migrate when quiet.
    sql: (t) => `
      CREATE INDEX dead_letters_open_records ON ${t.deadLetters} (group_name, topic, partition, record_offset, (COALESCE(event_id, '')))
        WHERE status IN ('dead', 'parked');
      DO $herald$
      DECLARE
        newest_duplicate bigint;
      BEGIN
        SELECT COALESCE(max(d.seq), 0) INTO newest_duplicate FROM ${t.deadLetters} AS d
          WHERE d.status IN ('dead', 'parked') AND EXISTS (
            SELECT 1 FROM ${t.deadLetters} AS o
            WHERE o.status IN ('dead', 'parked') AND o.seq < d.seq AND o.group_name = d.group_name AND o.topic = d.topic
              AND o.partition = d.partition AND o.record_offset = d.record_offset AND COALESCE(o.event_id, '') = COALESCE(d.event_id, ''));
        EXECUTE format(
          'CREATE UNIQUE INDEX dead_letters_open_record ON %s (group_name, topic, partition, record_offset, (COALESCE(event_id, %L))) WHERE status IN (%L, %L) AND seq > %s',
          ${sqlLiteral(t.deadLetters)}, '', 'dead', 'parked', newest_duplicate);
      END
      $herald$;
    `,
  },
];

/** `text` as an SQL string literal. */
function sqlLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
