import kafkajs from 'kafkajs';
import type { Admin, DescribeConfigResponse } from 'kafkajs';
import { CoreErrors, HeraldError } from '@herald/core';
import type { TopicDescription } from '@herald/core';
import { isUnsupportedApi, toHeraldError } from '../errors.js';
import type { InspectDeps } from './deps.js';
import { checkName, isInternalTopic } from './deps.js';
import { topicRanges } from './topicRanges.js';

type Retention = Pick<TopicDescription, 'retentionMs' | 'retentionBytes'>;

const UNKNOWN: Retention = { retentionMs: null, retentionBytes: null };

/**
 * The named topics that exist (every topic but Kafka's internal ones when none are named), in name
 * order, with each partition's first and next offsets (ListOffsets) and the retention the broker
 * applies (DescribeConfigs, defaults included). A broker that cannot describe configs (the mock
 * cluster) is detected once and its retention reported as unknown (null).
 */
export async function describeTopics(deps: InspectDeps, topics?: readonly string[]): Promise<TopicDescription[]> {
  if (topics !== undefined) {
    if (!Array.isArray(topics)) throw new HeraldError(CoreErrors.invalidOptions, 'kafka: describeTopics takes an array of topic names');
    for (const topic of topics) checkName(topic, 'a topic name');
  }
  try {
    const admin = await deps.admin();
    // the admin client never auto-creates topics, so asking about a missing one does not make it exist
    const existing = await admin.listTopics();
    const names = topics === undefined ? existing.filter((t) => !isInternalTopic(t)) : [...new Set(topics)].filter((t) => existing.includes(t));
    names.sort();
    if (names.length === 0) return [];
    // one after the other: both read through the client's shared metadata (see topicRanges)
    const ranges = await topicRanges(admin, names);
    const retention = await retentionOf(deps, admin, names);
    return names.map((name) => ({ name, partitions: ranges.get(name)!, ...(retention.get(name) ?? UNKNOWN) }));
  } catch (error) {
    throw toHeraldError(error, 'describing topics');
  }
}

async function retentionOf(deps: InspectDeps, admin: Admin, names: readonly string[]): Promise<Map<string, Retention>> {
  if (deps.support.describeConfigs === false) return new Map();
  let answer: DescribeConfigResponse;
  try {
    answer = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms', 'retention.bytes'] })),
    });
  } catch (error) {
    if (!(await cannotDescribeConfigs(admin, error))) throw error;
    deps.support.describeConfigs = false;
    deps.logger.debug('kafka: the broker cannot describe topic configs; retention is reported as unknown (null)');
    return new Map();
  }
  deps.support.describeConfigs = true;
  const retention = new Map<string, Retention>();
  for (const resource of answer.resources) {
    if (resource.errorCode !== 0) continue;
    const limit = (config: string) => {
      const value = Number(resource.configEntries.find((e) => e.configName === config)?.configValue ?? Number.NaN);
      // -1 means unbounded
      return Number.isFinite(value) && value >= 0 ? value : null;
    };
    retention.set(resource.resourceName, { retentionMs: limit('retention.ms'), retentionBytes: limit('retention.bytes') });
  }
  return retention;
}

/**
 * kafkajs sends DescribeConfigs to the controller. A broker that lacks the API, or a cluster whose
 * reported controller is none of its brokers (the mock cluster), cannot answer; anything else is a
 * failure worth reporting.
 */
async function cannotDescribeConfigs(admin: Admin, error: unknown): Promise<boolean> {
  if (isUnsupportedApi(error)) return true;
  if ((error as { name?: unknown } | null)?.name !== 'KafkaJSBrokerNotFound') return false;
  const cluster = await admin.describeCluster();
  return !cluster.brokers.some((b) => b.nodeId === cluster.controller);
}
