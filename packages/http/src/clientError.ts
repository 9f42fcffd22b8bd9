import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { HeraldError, type Logger } from '@herald/core';
import { HttpErrors } from './errors.js';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem.js';

/**
 * Answers a request Node's HTTP parser refused before any route saw it — a request line or header
 * with bytes HTTP does not allow (a raw non-ASCII URL), headers over the size limit, a request
 * that did not arrive in time — with problem+json like every other error of the gateway, then
 * closes the connection (the parser cannot find where the next request would start).
 */
export function clientErrorHandler(logger: Logger): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const spec = error.code === 'HPE_HEADER_OVERFLOW' ? HttpErrors.headersTooLarge : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? HttpErrors.requestIncomplete : HttpErrors.badRequest;
    const detail =
      spec === HttpErrors.badRequest ? `the request is not valid HTTP (${error.code ?? 'parse error'}); a URL must be percent-encoded ASCII` : error.message;
    const problem = toProblem(new HeraldError(spec, detail), '');
    logger.debug('http: request refused by the parser', { code: error.code, status: problem.status });
    if (socket.writable) {
      const body = Buffer.from(JSON.stringify({ ...problem, instance: undefined }));
      socket.write(
        `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      socket.write(body);
    }
    socket.destroy();
  };
}
