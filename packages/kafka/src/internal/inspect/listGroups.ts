import type { Admin } from 'kafkajs';
import { isUnsupportedApi, toHeraldError } from '../errors.js';
import { committedOffsets } from './committedOffsets.js';
import type { InspectDeps } from './deps.js';
import { isInternalGroup } from './deps.js';

/**
 * Every group the cluster knows (ListGroups asks each broker; groups with only committed offsets
 * are listed too), in name order, but the adapter's own readers and scans (`isInternalGroup`). A cluster that cannot list groups (the mock cluster) is detected
 * once and logged: then only the groups this instance has subscribed, reset or described are
 * candidates, each listed when it has a member here or committed offsets, so the answer is true
 * but may be incomplete.
 */
export async function listGroups(deps: InspectDeps): Promise<string[]> {
  try {
    const admin = await deps.admin();
    if (deps.support.listGroups !== false) {
      try {
        const { groups } = await admin.listGroups();
        deps.support.listGroups = true;
        return [...new Set(groups.map((g) => g.groupId))].filter((g) => !isInternalGroup(g)).sort();
      } catch (error) {
        if (!isUnsupportedApi(error)) throw error;
        deps.support.listGroups = false;
        deps.logger.warn('kafka: the broker cannot list groups; listing only groups this client has subscribed, reset or described');
      }
    }
    return await locallyKnown(deps, admin);
  } catch (error) {
    throw toHeraldError(error, 'listing groups');
  }
}

async function locallyKnown(deps: InspectDeps, admin: Admin): Promise<string[]> {
  const listed: string[] = [];
  for (const group of deps.local.known()) {
    if (deps.local.members(group) > 0 || (await committedOffsets(deps, admin, group)).size > 0) listed.push(group);
  }
  return listed.sort();
}
