// headers and integers as the SQL engines store them
export { headersText, parseHeaders } from './headers.js';
export { toNumber, toNumberOrNull } from './integers.js';

// idempotency keys written by a release without leases
export { EARLIER_RELEASE_LEASE_MS, idempotencyLeaseEnd, idempotencyLeaseEndSql } from './idempotencyLease.js';

// outbox rows
export { OUTBOX_ENTRY_COLUMNS, OUTBOX_RECORD_COLUMNS, OUTBOX_RECORD_WIDTH, outboxValues, toOutboxEntry, toOutboxRecord, writeOutboxValues } from './outboxRows.js';
export type { OutboxRow } from './outboxRows.js';

// timers and saga instances
export { MAX_TIMER_ID, PENDING_TIMER_COLUMNS, TIMER_COLUMNS, timerValues, toFiredTimer, toPendingTimer } from './timerRows.js';
export type { TimerRow } from './timerRows.js';
export { SAGA_COLUMNS, sagaValues, toSagaRecord } from './sagaRows.js';
export type { SagaRow } from './sagaRows.js';

// dead letters: rows, the query's WHERE clause, pages and groups
export { DEAD_LETTER_COLUMNS, deadLetterRow, resolvedAt, toDeadLetter } from './deadLetterRows.js';
export type { DeadLetterRow, DeadLetterWrite } from './deadLetterRows.js';
export { DEAD_LETTER_PAGE_LIMITS, decodeDeadLetterCursor, encodeDeadLetterCursor, pageLimit } from './deadLetterCursor.js';
export { deadLetterPageQuery, deadLetterWhere } from './deadLetterQuery.js';
export type { DeadLetterPageQuery, SqlWhere } from './deadLetterQuery.js';
export { toDeadLetterGroup, toDeadLetterPage } from './deadLetterViews.js';
export type { DeadLetterGroupRow, DeadLetterPageRow } from './deadLetterViews.js';

// window state: rows and snapshots
export { WINDOW_COLUMNS, toStoredWindow, toWindowPartitions, toWindowSnapshot } from './windowRows.js';
export type { WindowPartitionRow, WindowRow } from './windowRows.js';
