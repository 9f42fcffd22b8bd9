import { describeThrown, type Component } from '@herald/core';
import type { Registry } from 'prom-client';
import { factsListener } from './internal/facts.js';
import { createInstruments, type Instruments } from './internal/instruments.js';
import { processRegistry } from './internal/processMetrics.js';
import { createReadSide, type ReadSource } from './internal/readSide.js';
import { createStreamTimes } from './internal/streamTimes.js';
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
  /**
   * This app's metrics followed by the process metrics (unless `processMetrics: false`). A scrape
   * called while another collects gets that one's exposition: the registry collects once at a time.
   */
  scrape(): Promise<Exposition>;
  /** Records one HTTP request (the gateway calls it for every response). */
  observeRequest(request: HttpRequestObservation): void;
  /** Reads lag, outbox backlog, dead letters and sagas in flight now (what the interval does); never rejects. */
  poll(): Promise<void>;
}

/** The most of the time the periodic reads of the read side may take (see `run`). */
const READ_SHARE = 0.05;

/**
 * Creates the metrics of one app: subscribes to its instrumentation facts at once (counting from
 * now until `close()`), and, between `start()` and `close()`, reads its read side every
 * `pollIntervalMs` (or, after a successful read that took t, no sooner than 19·t: reads take at
 * most 5% of the time; failed reads are retried at the interval): consumer lag per partition of the
 * app's own groups (through the broker's inspector when it has one, else from this process' `lag`
 * facts, a partition's lag dropped when it is revoked), the outbox backlog and the age of its oldest
 * record, the dead letters waiting per group, handler and reason, and, when the stores' saga store
 * has the census ability (`hasSagaCensus`), the saga instances in flight per saga and status and
 * the age of the oldest (from the first read that finds one of its instances, or its first
 * transition in this process; then at 0 when none is left). A read that fails, or takes
 * longer than `readTimeoutMs` (it is then waited for at the next polls, given up on after 3
 * deadlines; the error of the source's last failed read is the timeout's `cause`: see
 * `readTimeoutMs`), is counted (`herald_metrics_read_errors_total`) and leaves the gauges at their
 * last values. A failing source is logged (warn) when it starts failing, again when what it fails
 * with changes (the code and message of the error's innermost cause: a timeout whose cause is a
 * broker's connection error fails with that error), and (info) when it works again; never at every
 * poll. `ready()` resolves after the first read; `close()` stops reading (a read in flight finishes
 * within the deadline) and unsubscribes. The streams' stream time lag comes from their facts, not
 * from a read: the stream time each partition this process runs last committed, against the
 * app's clock at the scrape. Every metric name is in `names.ts`.
 *
 * Processes of one system share the log and stores, so processes running the same groups report
 * the same lag, and all of them the same outbox, dead letters and sagas: aggregate these gauges with
 * `max`, not `sum`.
 *
 * @example
 * const app = createApp({ ...sqliteEngine({ dataDir: '.herald' }) });
 * const metrics = createMetrics({ app });
 * app.use(metrics).use(metricsServer({ metrics, port: 9464 }));
 * await app.start();   // curl 127.0.0.1:9464/metrics
 */
export function createMetrics(options: MetricsOptions): HeraldMetrics {
  const { app, registry, pollIntervalMs, readTimeoutMs, processMetrics } = resolveMetricsOptions(options);
  const readSide = createReadSide(app, { readTimeoutMs });
  const streamTimes = createStreamTimes(app.clock);
  const instruments: Instruments = createInstruments(registry, { ...readSide.collectors, streamTimeLag: streamTimes.collect });
  readSide.bind(instruments);
  const logger = app.logger.child({ component: 'metrics' });
  const recordFact = factsListener(instruments, { lagFromFacts: !readSide.inspectsLag, streamTimes });
  let unsubscribe: (() => void) | undefined = app.instrumentation.on(function onFact(fact) {
    recordFact(fact);
    if (fact.kind === 'saga') readSide.knowSaga(fact.saga);
  });

  /**
   * Sources whose last read failed, with what it failed with (see {@link rootCause}): a failure is
   * logged when it starts, when its root cause changes and when it ends, not at every read.
   */
  let failing = new Map<ReadSource, string>();
  /** Reads the read side; resolves with how long its slowest successful read took (ms). */
  const read = async (): Promise<number> => {
    const failed = new Map<ReadSource, string>();
    const tookMs = await readSide.poll((source, error) => {
      instruments.counters.pollErrors.inc({ source });
      const cause = rootCause(error);
      const before = failing.get(source);
      if (before === undefined) logger.warn('metrics: reading the read side failed; its gauges keep their last values', { source, error });
      else if (before !== cause) logger.warn('metrics: reading the read side still fails, with another error', { source, error });
      failed.set(source, cause);
    });
    for (const source of failing.keys()) if (!failed.has(source)) logger.info('metrics: reading the read side works again', { source });
    failing = failed;
    return tookMs;
  };

  const stop = new AbortController();
  let loop: Promise<void> | undefined;
  let firstRead: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** The scrape collecting now, if one is (see `scrape`). */
  let scraping: Promise<Exposition> | undefined;

  /** This app's metrics, then the process metrics unless left out. */
  async function expose(): Promise<Exposition> {
    const own = await registry.metrics();
    if (!processMetrics) return { contentType: registry.contentType, body: own };
    // a family the registry has already (it collects the default metrics itself) is not repeated:
    // Prometheus refuses a scrape that declares a metric twice
    const shared = processRegistry();
    const extra = shared.getMetricsAsArray().filter((metric) => registry.getSingleMetric(metric.name) === undefined);
    const families = await Promise.all(extra.map((metric) => shared.getSingleMetricAsString(metric.name)));
    return { contentType: registry.contentType, body: families.length > 0 ? `${own}\n${families.join('\n\n')}\n` : own };
  }

  async function run(first: Promise<number>): Promise<void> {
    let lastReadMs = await first;
    while (!stop.signal.aborted) {
      // reads take at most READ_SHARE of the time: a read side grown slow (a long outbox backlog
      // counted on the embedded engine's event loop) is read less often rather than slowing the app.
      // Only successful reads count: a read that fails after a long client timeout (a broker down)
      // costs the app nothing, and is retried at the interval so its errors keep being counted.
      await app.clock.sleep(Math.max(pollIntervalMs, lastReadMs * (1 / READ_SHARE - 1)), stop.signal).catch(() => {});
      if (!stop.signal.aborted) lastReadMs = await read();
    }
  }

  return {
    name: 'metrics',
    registry,
    async start(signal) {
      if (loop || closing || pollIntervalMs === 0) return;
      signal?.addEventListener('abort', () => stop.abort(), { once: true });
      const first = read();
      firstRead = first.then(() => undefined);
      loop = run(first);
    },
    ready: async () => firstRead,
    close({ deadlineMs }) {
      closing ??= (async () => {
        stop.abort();
        readSide.stop();
        unsubscribe?.();
        unsubscribe = undefined;
        // a read in flight is only a read: past the deadline it is left to finish on its own
        if (loop) await Promise.race([loop, app.clock.sleep(deadlineMs).catch(() => {})]);
      })();
      return closing;
    },
    scrape() {
      // scrapes that come while one collects (two Prometheus replicas, a retry after a scrape
      // timeout) share its exposition: a metric of the user's whose collect is slow (a database
      // count) runs once at a time, rather than once more per scrape while it hangs
      if (!scraping) {
        const current = expose().finally(() => {
          scraping = undefined;
        });
        scraping = current;
      }
      return scraping;
    },
    observeRequest(request) {
      const labels = { method: request.method, route: request.route ?? UNMATCHED_ROUTE, status_code: String(request.statusCode) };
      instruments.histograms.httpDuration.observe(labels, request.durationMs / 1000);
    },
    poll: async () => void (await read()),
  };
}

/** How deep a cause chain is followed (a chain may be a cycle). */
const MAX_CAUSES = 8;

/**
 * The code (else name) and message of the innermost cause of `error`: a read's `timeout` carries
 * the error the last read that ended failed with as its cause, so a source whose reads alternately
 * time out and fail late with the client's error (a broker's connection timeout) fails with the
 * same root cause at every poll, and is not logged at every poll.
 */
function rootCause(error: unknown): string {
  let root = error;
  for (let depth = 0; depth < MAX_CAUSES && root instanceof Error && root.cause !== undefined; depth++) root = root.cause;
  // what a driver throws may be anything (no prototype: String() throws on it): describeThrown never throws
  if (!(root instanceof Error)) return describeThrown(root);
  try {
    const code = (root as { code?: unknown }).code;
    return `${typeof code === 'string' || typeof code === 'number' ? code : root.name}: ${describeThrown(root)}`;
  } catch {
    return describeThrown(root);
  }
}
