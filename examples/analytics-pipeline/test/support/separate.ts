import { parseExposition, sumSamples } from '@herald/metrics';
import { expect } from 'vitest';
import { GROUPS } from '../../src/events.js';
import { httpBatch, httpSingle, send } from './client.js';
import { httpQueries, sendScenario, verifyQueries } from './drive.js';
import { grpcBatch, grpcClients, grpcQueries, grpcStream, grpcUnary } from './grpcClient.js';
import { groupsOf, startService, stopService, type PipelineProcess } from './processes.js';
import { buildScenario, type Scenario } from './scenario.js';

/**
 * Seed 001's deployment: the three services as three processes (`--service producer|consumer|analytics`)
 * configured by `env` only. The scenario goes in over HTTP and gRPC; every query is checked over
 * both; the consumer's /metrics counts each dead letter by reason under the seed's `errors_total`,
 * and each process ran only its own consumer groups. Stops them all gracefully.
 */
export async function runSeparately(
  env: Record<string, string>,
  prefix: string,
  processes: PipelineProcess[],
  expected: { readonly engine: RegExp; readonly analyticsStore: string },
): Promise<Scenario> {
  // the consumer first: it creates the analytics store's tables the analytics service reads
  const consumer = await startService('consumer', env, 120_000);
  processes.push(consumer);
  const [producer, analytics] = await Promise.all([startService('producer', env, 120_000), startService('analytics', env, 120_000)]);
  processes.push(producer!, analytics!);
  for (const service of [consumer, analytics!]) {
    const ready = JSON.parse(service.lines.find((l) => l.includes('"msg":"analytics-pipeline ready"'))!) as { engine: string; analyticsStore: string };
    expect(ready.engine).toMatch(expected.engine);
    expect(ready.analyticsStore).toBe(expected.analyticsStore);
  }
  const clients = grpcClients(producer!.urls.producerGrpc!, analytics!.urls.analyticsGrpc!);
  const scenario = buildScenario(prefix, 3);
  try {
    const producerUrl = producer!.urls.producerHttp!;
    const senders = [httpSingle(producerUrl), httpBatch(producerUrl), grpcUnary(clients.producer), grpcBatch(clients.producer), grpcStream(clients.producer)];
    await sendScenario(producerUrl, senders, scenario);
    await verifyQueries(httpQueries(analytics!.urls.analyticsHttp!), scenario, 120_000);
    await verifyQueries(grpcQueries(clients.analytics), scenario);
  } finally {
    clients.close();
  }

  const scrape = await send(`${consumer.urls.consumerHttp}/metrics`);
  const samples = parseExposition(scrape.body as string);
  const reasons = new Map<string, number>();
  for (const reason of scenario.deadLetters.values()) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  for (const [reason, count] of reasons) expect(sumSamples(samples, 'errors_total', { source: 'consumer', code: reason })).toBe(count);
  expect(sumSamples(samples, 'events_processed_total', { group: GROUPS.stream, outcome: 'dead-lettered' })).toBe(scenario.deadLetters.size);
  expect(sumSamples(samples, 'events_processed_total', { group: GROUPS.metrics, outcome: 'applied' })).toBe(scenario.metrics.length);

  expect(groupsOf(consumer)).toEqual(new Set([GROUPS.stream, GROUPS.metrics]));
  expect(groupsOf(producer!)).toEqual(new Set());
  expect(groupsOf(analytics!)).toEqual(new Set());
  expect(await Promise.all([producer, analytics, consumer].map((p) => stopService(p)))).toEqual([0, 0, 0]);
  return scenario;
}
