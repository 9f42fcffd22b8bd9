import { spawn } from 'node:child_process';
import { HeraldError, CoreErrors } from '@herald/core';

/** Options of {@link startKafkaMock}. */
export interface KafkaMockOptions {
  /** Brokers in the mock cluster. Default 3. */
  readonly brokers?: number;
  /** How long to wait for the cluster to report its addresses. Default 15 000 ms. */
  readonly startTimeoutMs?: number;
  /** The kcat executable. Default `kcat` (from PATH). */
  readonly kcatPath?: string;
}

/** A running mock cluster. */
export interface KafkaMock {
  /** Bootstrap servers (`127.0.0.1:PORT`), one per broker. */
  readonly brokers: readonly string[];
  /**
   * The `HERALD_KAFKA_*` variables (of `@herald/engine`) that point a service at this cluster,
   * tuned for the mock: it holds an empty fetch for its whole max wait (10 ms here) and a rebalance
   * lasts about the session timeout (3 s here, heartbeats every 300 ms).
   */
  readonly engineEnv: Readonly<Record<string, string>>;
  /** Stops the cluster (kills kcat) and resolves when the process has exited. Idempotent. */
  stop(): Promise<void>;
}

const INSTALL_HINT = 'install it with `apt-get install -y kcat` (Debian/Ubuntu; `brew install kcat` on macOS)';
const DEFAULTS = { brokers: 3, startTimeoutMs: 15_000, kcatPath: 'kcat' } as const;

/**
 * Starts librdkafka's in-process mock Kafka cluster by running kcat as a consumer of a keep-alive
 * topic; the cluster lives exactly as long as that kcat process. Tests need no Docker and no JVM.
 *
 * Contract: resolves once the mock printed its bootstrap servers (all on 127.0.0.1); rejects with
 * a `HeraldError` whose message says what to install when kcat is missing, or when the cluster
 * does not come up within `startTimeoutMs` (the process is killed then). Call `stop()` in
 * `afterAll`. The mock supports produce, fetch, list offsets, consumer groups and offset commits,
 * but not CreateTopics, DescribeGroups or timestamp lookups; topics are auto-created with 4
 * partitions on first use, and each partition keeps only about 5 MiB.
 *
 * @example
 * const mock = await startKafkaMock();
 * const broker = kafkaBroker({ brokers: mock.brokers });
 * // ... afterAll: await broker.close(); await mock.stop();
 */
export function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMock> {
  const brokers = options.brokers ?? DEFAULTS.brokers;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULTS.startTimeoutMs;
  const kcatPath = options.kcatPath ?? DEFAULTS.kcatPath;
  if (!Number.isInteger(brokers) || brokers < 1) {
    throw new HeraldError(CoreErrors.invalidOptions, `startKafkaMock: brokers must be an integer >= 1, got ${brokers}`);
  }
  const child = spawn(
    kcatPath,
    ['-b', 'localhost:9', '-X', `test.mock.num.brokers=${brokers}`, '-C', '-t', '__herald_keepalive', '-o', 'end', '-q'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // a test runner that dies without calling stop() must not leave a cluster behind
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.removeListener('exit', killOnExit);
      resolve();
    }),
  );
  const stop = once(async () => {
    // no pid: spawning failed (kcat missing), there is nothing to wait for
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  });

  return new Promise<KafkaMock>((resolve, reject) => {
    let stderr = '';
    const fail = (error: HeraldError) => {
      clearTimeout(timer);
      void stop().then(() => reject(error));
    };
    const timer = setTimeout(
      () => fail(new HeraldError(CoreErrors.brokerUnavailable, `kcat mock cluster did not start within ${startTimeoutMs} ms; stderr: ${stderr.slice(-500)}`)),
      startTimeoutMs,
    );
    child.once('error', (error: NodeJS.ErrnoException) => {
      const missing = error.code === 'ENOENT';
      fail(
        new HeraldError(
          CoreErrors.brokerUnavailable,
          missing
            ? `The Kafka mock cluster needs kcat, which was not found ('${kcatPath}'): ${INSTALL_HINT}.`
            : `could not start kcat ('${kcatPath}'): ${error.message}`,
          { cause: error },
        ),
      );
    });
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null) => {
      fail(new HeraldError(CoreErrors.brokerUnavailable, `kcat exited early (code ${code}, signal ${signal}); stderr: ${stderr.slice(-500)}`));
    };
    child.once('exit', onEarlyExit);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 64_000) stderr += chunk;
      const servers = parseBootstrap(stderr);
      if (servers === undefined) return;
      clearTimeout(timer);
      child.removeListener('exit', onEarlyExit);
      // keep draining stderr so kcat never blocks on a full pipe
      resolve({
        brokers: servers,
        engineEnv: {
          HERALD_KAFKA_BROKERS: servers.join(','),
          HERALD_KAFKA_SESSION_TIMEOUT_MS: '3000',
          HERALD_KAFKA_HEARTBEAT_INTERVAL_MS: '300',
          HERALD_KAFKA_REBALANCE_TIMEOUT_MS: '10000',
          HERALD_KAFKA_FETCH_MAX_WAIT_MS: '10',
        },
        stop,
      });
    });
  });
}

/** Extracts `HOST:PORT,...` from librdkafka's "replaced with ..." line, once the line is complete. */
export function parseBootstrap(stderr: string): string[] | undefined {
  const match = /replaced with ([^\s]+)\s*\n/.exec(stderr);
  if (!match) return undefined;
  const servers = match[1]!.split(',').filter((s) => /^[^:]+:\d+$/.test(s));
  return servers.length > 0 ? servers : undefined;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
