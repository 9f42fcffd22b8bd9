/**
 * Slots of the outbox: a row's slot is a hash of its key (computed by PostgreSQL, a generated
 * column), so one key's rows are in one slot, in order. A relay leases whole slots; more slots let
 * more relays share the work. Changing it needs a migration.
 */
export const OUTBOX_SLOTS = 16;
