import { partitionForKey } from '@herald/core';

/**
 * Slots of the outbox: keys are spread over them with Kafka's hash, so one key's records are in
 * one slot, in order. A relay leases whole slots; more slots let more relays share the work.
 */
export const OUTBOX_SLOTS = 16;

export function outboxSlot(key: string): number {
  return partitionForKey(key, OUTBOX_SLOTS);
}
