/**
 * How long a key taken by a release without idempotency leases (before PostgreSQL migration 10,
 * SQLite stores migration 9) is held: that release's gateway default lease. Such a release, still
 * running during a rolling upgrade, writes keys without a lease (SQLite fills in 0; a takeover's
 * upsert on either engine keeps the row's earlier lease), so a newer process would find the lease
 * run out and take the key over from a live attempt: both would commit.
 */
export const EARLIER_RELEASE_LEASE_MS = 60_000;

/**
 * The SQL for an idempotency row's effective lease end: its `lease_expires_at`, or, when that is
 * at or before its `created_at` (only a release without leases writes such a row: a lease of this
 * one always ends after the attempt began), `created_at` + {@link EARLIER_RELEASE_LEASE_MS}.
 */
export function idempotencyLeaseEndSql(row: string): string {
  return `CASE WHEN ${row}.lease_expires_at <= ${row}.created_at THEN ${row}.created_at + ${EARLIER_RELEASE_LEASE_MS} ELSE ${row}.lease_expires_at END`;
}

/** {@link idempotencyLeaseEndSql} for a row read into memory. */
export function idempotencyLeaseEnd(row: { readonly created_at: number; readonly lease_expires_at: number }): number {
  return row.lease_expires_at <= row.created_at ? row.created_at + EARLIER_RELEASE_LEASE_MS : row.lease_expires_at;
}
