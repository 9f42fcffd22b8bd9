import { connect } from 'node:net';
import type { PoolClient } from 'pg';
import type { Db } from './db.js';

/*
 * Ending a transaction whose work was abandoned (its deadline passed, its attempt aborted) while
 * one of its statements still runs: cancel the statement, then roll back, each bounded, so that a
 * connection in doubt is discarded rather than waited for.
 */

/** How long a rollback may wait for the cancel to reach its statement, or for the server. */
export const ROLLBACK_WAIT_MS = 5_000;
/** How long sending a cancel request may take. */
const CANCEL_WAIT_MS = 2_000;

/**
 * Cancels the statement `client`'s session is running with the protocol's CancelRequest (its
 * process id and secret key, on a connection of its own): handled by the postmaster before any
 * login, so it needs no free backend slot, which is exactly what is missing when transactions hang
 * (max_connections, a role's connection limit), nor a connection from the pool. The server does
 * not answer; a cancel arriving when the session is idle is dropped, so it cannot hit another
 * statement. False when it could not be sent: the caller then discards the connection.
 */
export async function cancelRunning(db: Db, client: PoolClient): Promise<boolean> {
  const session = client as unknown as { processID?: number | null; secretKey?: number | null; host?: string; port?: number };
  const { processID, secretKey, host, port } = session;
  const sent = processID != null && secretKey != null && host !== undefined && port !== undefined && (await sendCancelRequest(host, port, processID, secretKey));
  if (!sent) db.logger.warn('pgStores: could not cancel the statement of a transaction rolled back; discarding its connection', { pid: processID });
  return sent;
}

function sendCancelRequest(host: string, port: number, processID: number, secretKey: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    const timer = setTimeout(() => socket.destroy(), CANCEL_WAIT_MS);
    let written = false;
    socket.on('connect', () => {
      const request = Buffer.alloc(16);
      request.writeInt32BE(16, 0);
      request.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      request.writeInt32BE(processID, 8);
      request.writeInt32BE(secretKey, 12);
      socket.end(request, () => (written = true));
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(written);
    });
  });
}

/** The CancelRequest message's code (1234 in the high 16 bits, 5678 in the low 16). */
const CANCEL_REQUEST_CODE = 80877102;

/** Whether ROLLBACK succeeded within `ms` (a failure or a timeout leaves the connection in doubt). */
export function rollbackWithin(client: PoolClient, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    client.query('ROLLBACK').then(
      () => (clearTimeout(timer), resolve(true)),
      () => (clearTimeout(timer), resolve(false)),
    );
  });
}
