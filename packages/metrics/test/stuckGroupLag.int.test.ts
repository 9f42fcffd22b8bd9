import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, defineEvent, silentLogger } from '@herald/core';
import type { Broker } from '@herald/core';
import { kafkaBroker } from '@herald/kafka';
import { sqliteLog } from '@herald/sqlite';
import { memoryStores } from '@herald/testing';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, GAUGES } from '../src/index.js';
import { eventually } from './support/app.js';
import { scrape } from './support/running.js';
import { runTool } from './support/tools.js';

// A new consumer group whose first record's handler keeps failing never commits. The broker
// describes only the topics a group committed on, so before the metrics named the group's topics
// it had no lag series at all on Kafka (the embedded log stores a group's start position when a
// member takes a partition, so it showed there), and HeraldConsumerLagHigh could never fire for it.

const RULES = join(import.meta.dirname, '..', '..', '..', 'deploy', 'prometheus', 'rules', 'herald.yml');
/** Over the alert's threshold (10k records). */
const WAITING = 10_001;
const GROUP = 'stuck-billing';

const scratch = mkdtempSync(join(tmpdir(), 'herald-stuck-lag-'));
let mock: KafkaMock | undefined;
afterAll(async () => {
  await mock?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const engines: readonly (readonly [string, () => Promise<Broker>])[] = [
  ['the embedded log (a file)', async () => sqliteLog({ path: join(scratch, 'log.db'), defaultPartitions: 4, pollMs: 10 })],
  [
    'Kafka (the librdkafka mock cluster)',
    async () => {
      mock ??= await startKafkaMock({ brokers: 1 });
      return kafkaBroker({
        brokers: mock.brokers,
        logger: silentLogger,
        fetch: { maxWaitMs: 10 },
        group: { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 10_000 },
      });
    },
  ],
];

describe.each(engines)('a group stuck before its first commit, on %s', (_name, openBroker) => {
  const PaymentRequested = defineEvent({ type: 'PaymentRequested', topic: `payments-${Date.now()}`, key: (d) => d.id, schema: Type.Object({ id: Type.String() }) });
  let lag: { partition: string; value: number }[] = [];
  let attempts = 0;

  beforeAll(async () => {
    const app = createApp({
      broker: await openBroker(),
      stores: memoryStores(),
      logger: silentLogger,
      events: [PaymentRequested],
      timers: false,
      relay: false,
    });
    // the payment service is down: every attempt fails retriably and is retried (almost) forever,
    // so the group never gets past its first record and never commits
    app.on(PaymentRequested, { group: GROUP, retry: { maxAttempts: 1_000_000, initialDelayMs: 5, maxDelayMs: 20 } }, async () => {
      attempts++;
      throw new Error('payment service down');
    });
    await app.publishDirect.many(
      PaymentRequested,
      Array.from({ length: WAITING }, (_, i) => ({ id: `p-${i}` })),
    );
    const metrics = createMetrics({ app, pollIntervalMs: 0, processMetrics: false });
    app.use(metrics);
    await app.start();
    try {
      await eventually(() => attempts >= 3, 'the handler to fail a few times', 30_000);
      await eventually(async () => {
        await metrics.poll();
        lag = (await scrape(metrics))
          .filter((s) => s.name === GAUGES.lag.name && s.labels['group'] === GROUP)
          .map((s) => ({ partition: s.labels['partition']!, value: s.value }));
        return lag.reduce((sum, s) => sum + s.value, 0) === WAITING;
      }, `lag series of ${GROUP} adding up to ${WAITING}`, 30_000).catch(() => {});
    } finally {
      await app.close({ deadlineMs: 5_000 });
    }
  }, 90_000);

  it('exports a lag series per partition, adding up to every record waiting', () => {
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(lag.length).toBeGreaterThan(1);
    expect(lag.reduce((sum, s) => sum + s.value, 0)).toBe(WAITING);
  });

  it('is what HeraldConsumerLagHigh reads: the alert fires on these series after 5 minutes', async () => {
    const file = join(scratch, `${_name.replace(/\W+/g, '-')}.test.yml`);
    const series = lag.map((s) => `      - series: 'herald_consumer_lag{group="${GROUP}",topic="${PaymentRequested.topic}",partition="${s.partition}"}'\n        values: '${s.value}x10'`);
    writeFileSync(
      file,
      [
        `rule_files: [${JSON.stringify(RULES)}]`,
        'evaluation_interval: 1m',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        ...series,
        '    alert_rule_test:',
        '      - eval_time: 6m',
        '        alertname: HeraldConsumerLagHigh',
        '        exp_alerts:',
        '          - exp_labels: { severity: warning, group: ' + GROUP + ' }',
        '            exp_annotations:',
        `              summary: "Consumer group ${GROUP} is 10k records behind"`,
        `              description: "Lag of ${GROUP} has stayed above 10k records for 5 minutes: its consumers are too slow, stuck or gone (see herald_consumer_group_members and herald_handler_duration_seconds)."`,
      ].join('\n') + '\n',
    );
    const result = await runTool('promtool', ['test', 'rules', file]);
    expect({ code: result.code, out: `${result.stdout}${result.stderr}` }).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
  });
});
