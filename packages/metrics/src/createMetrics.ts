import type { Component } from '@herald/core';
import type { Registry } from 'prom-client';
import { factsListener } from './internal/facts.js';
import { createInstruments, type Instruments } from './internal/instruments.js';
import { processRegistry } from './internal/processMetrics.js';
import { createReadSide, type ReadSource } from './internal/readSide.js';
import { UNMATCHED_ROUTE } from './names.js';
import { resolveMetricsOptions, type MetricsOptions } from './options.js';

/** One finished HTTP request, as the gateway reports it. */
export interface HttpRequestObservation {
  readonly method: string;
  /** The route pattern that matched (`/orders/:id`), never the raw URL; undefined when none matched. */
  readonly route: string | undefined;
  readonly statusCode: number;
  readonly durationMs: number;
}

/** A scrape: the exposition text and its content type (Prometheus text format 0.0.4). */
export interface Exposition {
  readonly contentType: string;
  readonly body: string;
}

/**
 * An app's metrics: a {@link Component} to add with `app.use(...)` (it reads the read side on an
 * interval while the app runs), the registry behind them, and `scrape()` for whatever serves
 * `/metrics` (the gateway's `metrics` option, or {@link metricsServer}).
 */
export interface HeraldMetrics extends Component {
  /** The app's registry: Herald's metrics, and yours if you register some on it. */
  readonly registry: Registry;
  /** This app's metrics followed by the process metrics (unless `processMetrics: false`). */
  scrape(): Promise<Exposition>;
  /** Records one HTTP request (the gateway calls it for every response). */
  observeRequest(request: HttpRequestObservation): void;
  /** Reads lag, outbox backlog and dead letters now (what the interval does); never rejects. */
  poll(): Promise<void>;
}

/** The most of the time the periodic reads of the read side may take (see `run`). */
const READ_SHARE = 0.05;

/**
 * Creates the metrics of one app: subscribes to its instrumentation facts at once (counting from
 * now until `close()`), and, between `start()` and `close()`, reads its read side every
 * `pollIntervalMs` (or, after a read that took t, no sooner than 19·t: reads take at most 5% of
 * the time): consumer lag per group and partition (through the broker's inspector when it
 * has one, else from this process' `lag` facts), the outbox backlog and the age of its oldest
 * record, and the dead letters waiting per group, handler and reason. A read that fails is logged,
 * counted (`herald_metrics_read_errors_total`) and leaves the gauges at their last values.
 * `ready()` resolves after the first read; `close()` stops reading (a read in flight finishes
 * within the deadline) and unsubscribes. Every metric name is in `names.ts`.
 *
 * In a process running several services, the polled gauges describe the shared log and stores,
 * so every process reports the same values: aggregate them with `max`, not `sum`.
 *
 * @example
 * const app = createApp({ ...sqliteEngine({ dataDir: '.herald' }) });
 * const metrics = createMetrics({ app });
 * app.use(metrics).use(metricsServer({ metrics, port: 9464 }));
 * await app.start();   // curl 127.0.0.1:9464/metrics
 */
export function createMetrics(options: MetricsOptions): HeraldMetrics {
  const { app, registry, pollIntervalMs, processMetrics } = resolveMetricsOptions(options);
  const readSide = createReadSide(app);
  const instruments: Instruments = createInstruments(registry, readSide.collectors);
  readSide.bind(instruments);
  const logger = app.logger.child({ component: 'metrics' });
  let unsubscribe: (() => void) | undefined = app.instrumentation.on(factsListener(instruments, { lagFromFacts: !readSide.inspectsLag }));

  /** Sources whose last read failed: a failure is logged when it starts and when it ends, not at every read. */
  let failing = new Set<ReadSource>();
  const poll = async () => {
    const failed = new Set<ReadSource>();
    await readSide.poll((source, error) => {
      instruments.counters.pollErrors.inc({ source });
      if (!failing.has(source)) logger.warn('metrics: reading the read side failed; its gauges keep their last values', { source, error });
      failed.add(source);
    });
    for (const source of failing) if (!failed.has(source)) logger.info('metrics: reading the read side works again', { source });
    failing = failed;
  };

  const stop = new AbortController();
  let loop: Promise<void> | undefined;
  let firstRead: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  /** A read, and how long it took (ms, on the app's clock). */
  const timedPoll = async (): Promise<number> => {
    const started = app.clock.now();
    await poll();
    return app.clock.now() - started;
  };

  async function run(first: Promise<number>): Promise<void> {
    let lastReadMs = await first;
    while (!stop.signal.aborted) {
      // reads take at most READ_SHARE of the time: a read side grown slow (a long outbox backlog
      // counted on the embedded engine's event loop) is read less often rather than slowing the app
      await app.clock.sleep(Math.max(pollIntervalMs, lastReadMs * (1 / READ_SHARE - 1)), stop.signal).catch(() => {});
      if (!stop.signal.aborted) lastReadMs = await timedPoll();
    }
  }

  return {
    name: 'metrics',
    registry,
    async start(signal) {
      if (loop || closing || pollIntervalMs === 0) return;
      signal?.addEventListener('abort', () => stop.abort(), { once: true });
      const first = timedPoll();
      firstRead = first.then(() => undefined);
      loop = run(first);
    },
    ready: async () => firstRead,
    close({ deadlineMs }) {
      closing ??= (async () => {
        stop.abort();
        unsubscribe?.();
        unsubscribe = undefined;
        // a read in flight is only a read: past the deadline it is left to finish on its own
        if (loop) await Promise.race([loop, app.clock.sleep(deadlineMs).catch(() => {})]);
      })();
      return closing;
    },
    async scrape() {
      const own = await registry.metrics();
      const body = processMetrics ? own + (await processRegistry().metrics()) : own;
      return { contentType: registry.contentType, body };
    },
    observeRequest(request) {
      const labels = { method: request.method, route: request.route ?? UNMATCHED_ROUTE, status_code: String(request.statusCode) };
      instruments.histograms.httpDuration.observe(labels, request.durationMs / 1000);
    },
    poll,
  };
}
