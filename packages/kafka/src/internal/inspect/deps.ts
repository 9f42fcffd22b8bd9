import type { Admin } from 'kafkajs';
import { CoreErrors, HeraldError } from '@herald/core';
import type { Logger } from '@herald/core';
import { READER_GROUP_PREFIX } from '../recordReader.js';
import { SCAN_GROUP_PREFIX } from '../timestampScan.js';
import type { BrokerSupport } from '../support.js';

/**
 * What this broker instance itself knows about groups: where the brokers cannot list groups or
 * describe their members (the mock cluster), that is all there is to go on.
 */
export interface LocalGroups {
  /** Groups this instance has subscribed, reset or described. */
  known(): readonly string[];
  /** Members this instance runs in `group` now. */
  members(group: string): number;
}

/** What every inspection operation reads through. */
export interface InspectDeps {
  readonly admin: () => Promise<Admin>;
  readonly support: BrokerSupport;
  readonly logger: Logger;
  readonly local: LocalGroups;
}

/** Kafka's own bookkeeping topics, left out of "every topic". */
const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);

export function isInternalTopic(name: string): boolean {
  return INTERNAL_TOPICS.has(name);
}

/**
 * The adapter's own throwaway groups (record readers, timestamp scans): they never commit and leave
 * once done, and are not the app's groups, so the inspector does not list them.
 */
export function isInternalGroup(name: string): boolean {
  return name.startsWith(READER_GROUP_PREFIX) || name.startsWith(SCAN_GROUP_PREFIX);
}

/** Throws `invalid-options` unless `name` is a non-empty string; `what` names it in the message. */
export function checkName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new HeraldError(CoreErrors.invalidOptions, `kafka: ${what} must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`);
  }
}
