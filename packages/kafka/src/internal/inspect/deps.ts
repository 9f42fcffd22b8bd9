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
  /** The cluster's topic names as last read (see `existingTopics`), shared by the describes of one poll. */
  topicNames?: { readonly at: number; readonly names: Promise<string[]> };
}

/** How long one read of the cluster's topic names serves: the describes of one metrics poll, one per group. */
const TOPIC_NAMES_TTL_MS = 1_000;

/**
 * The cluster's topic names (a Metadata request for every topic), read at most once a second: a
 * metrics poll describes each of an app's groups with the topics it reads, and each would
 * otherwise ask the whole cluster again. `fresh` reads them now (a name not among those read a
 * moment ago may be a topic just created).
 */
export function existingTopics(deps: InspectDeps, admin: Admin, options: { readonly fresh?: boolean } = {}): Promise<string[]> {
  const now = Date.now();
  if (!options.fresh && deps.topicNames && now - deps.topicNames.at < TOPIC_NAMES_TTL_MS) return deps.topicNames.names;
  const names = admin.listTopics();
  const entry = { at: now, names };
  deps.topicNames = entry;
  // a failed read is not kept: the next describe asks again
  names.catch(() => {
    if (deps.topicNames === entry) deps.topicNames = undefined;
  });
  return names;
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
