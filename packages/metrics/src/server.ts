import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreErrors, HeraldError, silentLogger, type Component, type Logger } from '@herald/core';
import type { Exposition } from './createMetrics.js';
import { MetricsErrors } from './errors.js';

/** What the server exposes: a {@link HeraldMetrics} has it. */
export interface MetricsSource {
  scrape(): Promise<Exposition>;
}

/** Options of {@link metricsServer}; every field but `metrics` has a default (see METRICS_SERVER_DEFAULTS). */
export interface MetricsServerOptions {
  readonly metrics: MetricsSource;
  /** Interface to listen on. Default 127.0.0.1 (use 0.0.0.0 in a container Prometheus scrapes from outside). */
  readonly host?: string;
  /** Port; 0 lets the system pick a free one (read it from `url` after start). Default 9464. */
  readonly port?: number;
  /** Path of the exposition. Default `/metrics`. */
  readonly path?: string;
  readonly logger?: Logger;
}

/** The standalone server's defaults, in one place. */
export const METRICS_SERVER_DEFAULTS = { host: '127.0.0.1', port: 9464, path: '/metrics' } as const;

/** A small HTTP server that serves only the metrics, for services without an HTTP gateway. */
export interface MetricsServer extends Component {
  /** `http://host:port/metrics` once listening; undefined before `start()` and after `close()`. */
  readonly url: string | undefined;
}

/**
 * Creates a standalone metrics server (node:http): GET `path` answers the scrape with
 * prom-client's content type, HEAD the same without a body, anything else 404 or 405. A component:
 * `start()` resolves once it listens (a port in use fails with `metrics-listen-failed`), `close()`
 * (also during `start()`: it waits for the listening to begin) stops accepting, lets scrapes in
 * flight finish until the deadline, then cuts the connections left. Idempotent. Add it with
 * `app.use(...)` after the metrics, so it closes before them.
 *
 * @example
 * app.use(metrics).use(metricsServer({ metrics, host: '0.0.0.0', port: 9464 }));
 */
export function metricsServer(options: MetricsServerOptions): MetricsServer {
  const { metrics, host, port, path, logger } = resolve(options);
  let server: Server | undefined;
  let url: string | undefined;
  let starting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestPath = (request.url ?? '/').split('?')[0];
    if (requestPath !== path) return plain(response, 404, `not found: the metrics are at ${path}\n`);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      return plain(response, 405, 'method not allowed\n');
    }
    try {
      const { contentType, body } = await metrics.scrape();
      // closing: the connection must not stay open (kept alive) after this answer
      if (closing) response.setHeader('connection', 'close');
      response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch (error) {
      logger.error('metrics: scrape failed', { error });
      plain(response, 500, 'scrape failed\n');
    }
  }

  return {
    name: 'metrics-server',
    get url() {
      return url;
    },
    start() {
      if (closing) return Promise.resolve();
      starting ??= (async () => {
        const listening = createServer((request, response) => void answer(request, response));
        await new Promise<void>((resolveListen, reject) => {
          listening.once('error', (error) => reject(new HeraldError(MetricsErrors.listenFailed, `metrics server: cannot listen on ${host}:${port}: ${error.message}`, { cause: error })));
          listening.listen(port, host, () => resolveListen());
        });
        server = listening;
        server.on('error', (error) => logger.error('metrics server failed', { error }));
        // closed while listening began: close() closes it now, it is never announced
        if (closing) return;
        const address = server.address() as AddressInfo;
        url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${path}`;
        logger.info('metrics server listening', { url });
      })();
      return starting;
    },
    close({ deadlineMs }) {
      closing ??= (async () => {
        url = undefined;
        // a server still starting is closed once it listens, so its port is never left bound
        await starting?.catch(() => {});
        const running = server;
        if (!running) return;
        const closed = new Promise<void>((done) => running.close(() => done()));
        running.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'deadline'>((done) => (timer = setTimeout(() => done('deadline'), deadlineMs)));
        if ((await Promise.race([closed, deadline])) === 'deadline') running.closeAllConnections();
        clearTimeout(timer);
        await closed;
      })();
      return closing;
    },
  };
}

function plain(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(text);
}

function resolve(options: MetricsServerOptions): Required<MetricsServerOptions> {
  if (typeof options?.metrics?.scrape !== 'function') throw invalid('metrics server: `metrics` must have scrape() (createMetrics gives it)');
  const port = options.port ?? METRICS_SERVER_DEFAULTS.port;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw invalid(`metrics server: port must be an integer in [0, 65535], got ${port}`);
  const host = options.host ?? METRICS_SERVER_DEFAULTS.host;
  if (typeof host !== 'string' || host.length === 0) throw invalid('metrics server: host must be a non-empty string');
  const path = options.path ?? METRICS_SERVER_DEFAULTS.path;
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalid(`metrics server: path must start with /, got ${path}`);
  return { metrics: options.metrics, host, port, path, logger: options.logger ?? silentLogger };
}

function invalid(message: string): HeraldError {
  return new HeraldError(CoreErrors.invalidOptions, message);
}
