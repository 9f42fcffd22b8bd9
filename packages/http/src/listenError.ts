import { HeraldError } from '@herald/core';
import { HttpErrors } from './errors.js';

/**
 * A system's refusal to listen (a port in use, a privileged port, a host that is no address here)
 * as `listen-failed`, naming the address and what to do; any other error (a route that failed to
 * register) passes unchanged.
 */
export function listenError(error: unknown, host: string, port: number): unknown {
  const syscall = (error as { syscall?: unknown } | null)?.syscall;
  if (typeof syscall !== 'string') return error;
  const systemCode = (error as { code?: unknown }).code;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const hint =
    systemCode === 'EADDRINUSE'
      ? 'the port is in use: choose a free port, or 0 to let the system pick one'
      : systemCode === 'EACCES'
        ? 'not permitted: ports below 1024 need privileges, choose a higher one'
        : 'check that the host is an address of this machine';
  return new HeraldError(HttpErrors.listenFailed, `http: cannot listen on ${address}: ${(error as Error).message} (${hint})`, {
    cause: error,
    details: { host, port, ...(typeof systemCode === 'string' ? { systemCode } : {}) },
  });
}
