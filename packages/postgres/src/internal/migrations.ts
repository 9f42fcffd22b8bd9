import { DEAD_LETTER_BYTES_AND_PAGES } from './migrations/deadLetterBytesAndPages.js';
import { DEAD_LETTERS_BY_KEY } from './migrations/deadLettersByKey.js';
import { FIRST_SCHEMA } from './migrations/firstSchema.js';
import { LEASES_AND_SAGA_RETENTION } from './migrations/leasesAndSagaRetention.js';
import type { Migration } from './migrations/migration.js';
import { OPEN_LETTER_PER_RECORD } from './migrations/openLetterPerRecord.js';
import { OUTBOX_MARKS_BY_TIME } from './migrations/outboxMarksByTime.js';
import { OUTBOX_BY_SLOT } from './migrations/outboxSlots.js';
import { RETENTION_AND_READ_SIDE } from './migrations/retentionAndReadSide.js';
import { SAGA_CENSUS } from './migrations/sagaCensus.js';
import { SAGAS_TIMERS_WINDOWS } from './migrations/sagasTimersWindows.js';

/**
 * The stores' schema, as versioned migrations. Times are epoch milliseconds (`bigint`), JSON is kept
 * as `text` so it reads back byte for byte (jsonb would reorder keys of stored responses).
 *
 * `migrate` applies them in this order and records each one's version and name, nothing of its
 * text: a new migration goes at the end of the last group (or starts a new group) with the next
 * version, and the groups stay in version order.
 */
export const MIGRATIONS: readonly Migration[] = [
  ...FIRST_SCHEMA, // 1-2
  ...RETENTION_AND_READ_SIDE, // 3-6
  ...OUTBOX_BY_SLOT, // 7
  ...SAGAS_TIMERS_WINDOWS, // 8-9
  ...LEASES_AND_SAGA_RETENTION, // 10-12
  ...DEAD_LETTER_BYTES_AND_PAGES, // 13-14
  ...SAGA_CENSUS, // 15
  ...OPEN_LETTER_PER_RECORD, // 16
  ...OUTBOX_MARKS_BY_TIME, // 17
  ...DEAD_LETTERS_BY_KEY, // 18
];
