import type { Migration } from './migration.js';

/** Version 18: a group's dead letters of one key, read by an index. */
export const DEAD_LETTERS_BY_KEY: readonly Migration[] = [
  {
    version: 18,
    name: 'dead letters by group and key',
    // The consumer's park-key path lists a group's letters of one key (dead, then parked) four
    // times for every delivery of a held key, a result's dead-lettering in the stream package once,
    // and no index had the key but `dead_letters_parked`, whose condition (a topic, policy
    // park-key) those lists do not give: each read every open letter of the group (17-68 ms at
    // 6,700 of them), or, without a status, the whole table (160 ms at 200,000 letters). The index
    // holds a hash of the key, not the key (a B-tree entry is limited to about 2.7 kB, see version
    // 13): deadLetters/listDeadLetters.ts compares the hash, then the key, on what it finds. It
    // covers every letter, resolved ones too (a list without a status reads them). Building it
    // reads the table once and blocks dead letter writes meanwhile: on a large table, migrate when
    // quiet.
    sql: (t) => `
      CREATE INDEX dead_letters_key ON ${t.deadLetters} (group_name, hashtextextended(key, 0));
    `,
  },
];
