import type { Pool } from 'pg';
import { isConnectionError, toStoreError } from '../../errors.js';
import { appliedVersions } from '../../migrate.js';
import type { Tables } from '../tables.js';
import { detectForeignIds, foreignIdsError } from './foreignIds.js';

/** The schema version that gave the dead letters their txid (the outbox has one since 7). */
const TXID_VERSION = 14;

/**
 * For stores that do not migrate (the CLI): throws `store-foreign-txids` when the schema holds
 * transaction ids this cluster never assigned, changing nothing. A schema without them yet (not
 * migrated, or older than version 14) is left to the operations, which fail as they would.
 */
export async function checkForeignIds(pool: Pool, t: Tables): Promise<void> {
  let client;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStoreError(error, 'pgStores: connect');
  }
  let broken = false;
  try {
    const versions = await appliedVersions(client, t);
    if (!versions?.has(TXID_VERSION)) return;
    const found = await detectForeignIds((statement) => client.query(statement), t);
    if (found) throw foreignIdsError(found, t);
  } catch (error) {
    const mapped = toStoreError(error, 'pgStores: find foreign transaction ids');
    broken = isConnectionError(mapped);
    throw mapped;
  } finally {
    client.release(broken);
  }
}
