/**
 * Slots of the outbox: a row's slot is a hash of its key (computed by PostgreSQL, a generated
 * column), so one key's rows are in one slot, in order. A relay leases whole slots; more slots let
 * more relays share the work. Changing it needs a migration.
 */
export const OUTBOX_SLOTS = 16;

/**
 * The slot of the key `key` (an SQL expression), as the generated column `outbox.slot` computes it
 * (migration 7): appends use it to lock and place their rows before the column exists.
 */
export function slotOf(key: string): string {
  return `(hashtextextended(${key}, 0) & ${OUTBOX_SLOTS - 1})::smallint`;
}
