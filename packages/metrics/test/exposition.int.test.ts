import { describe, expect, it } from 'vitest';
import { createMetrics, parseExposition, sumSamples } from '../src/index.js';
import { FLAKY, OrderPlaced, POISON, testApp } from './support/app.js';
import { caughtUp, useStartedApps } from './support/running.js';
import { runTool } from './support/tools.js';

const { started } = useStartedApps();

describe('the exposition', () => {
  it('passes promtool check metrics, with every kind of Herald metric and the process metrics in it', async () => {
    const fixture = testApp();
    const metrics = createMetrics({ app: fixture.app, pollIntervalMs: 60_000 });
    await started(fixture, metrics);
    for (const orderId of ['o-1', FLAKY, POISON]) await fixture.app.publish(OrderPlaced, { orderId });
    await fixture.untilHandled(5);
    // a saga instance in flight: the census gauges are in the scrape too
    await fixture.stores.transaction((tx) => fixture.stores.sagas.save(tx, { saga: 'order', instanceId: 'o-1', status: 'running', version: 1, state: {}, createdAt: Date.now(), updatedAt: Date.now() }));
    // a request a replier skipped past its deadline (@herald/reply)
    fixture.app.instrumentation.emit({ kind: 'request-expired', group: 'users', topic: 'users.profile', requestType: 'ProfileRequested', requester: 'gateway-1', lateByMs: 40 });
    metrics.observeRequest({ method: 'POST', route: '/orders', statusCode: 201, durationMs: 12 });
    metrics.observeRequest({ method: 'GET', route: undefined, statusCode: 404, durationMs: 1 });
    await caughtUp(metrics);
    const { body, contentType } = await metrics.scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const names = new Set(parseExposition(body).map((x) => x.name));
    for (const name of ['herald_events_handled_total', 'herald_http_request_duration_seconds_bucket', 'herald_dead_letters', 'herald_consumer_lag', 'herald_sagas_in_flight', 'herald_saga_oldest_in_flight_age_seconds', 'herald_requests_expired_total', 'nodejs_eventloop_lag_seconds']) {
      expect(names, name).toContain(name);
    }
    expect(sumSamples(parseExposition(body), 'herald_http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' })).toBe(1);
    const result = await runTool('promtool', ['check', 'metrics'], { stdin: body });
    expect({ code: result.code, output: (result.stdout + result.stderr).trim() }).toEqual({ code: 0, output: '' });
  });

  it('a missing tool fails with the command that installs it', async () => {
    await expect(runTool('promtool', ['--version'], { env: { PATH: '/nonexistent' } })).rejects.toThrow('apt-get install -y prometheus`');
    await expect(runTool('amtool', ['--version'], { env: { PATH: '/nonexistent' } })).rejects.toThrow('apt-get install -y prometheus-alertmanager`');
  });

  it('promtool check metrics can fail: it refuses a counter without _total, and a malformed line', async () => {
    const misnamed = '# HELP herald_broken a counter\n# TYPE herald_broken counter\nherald_broken 1\n';
    const linted = await runTool('promtool', ['check', 'metrics'], { stdin: misnamed });
    expect({ code: linted.code, output: linted.stdout + linted.stderr }).toEqual({ code: 3, output: expect.stringContaining('_total') });
    const malformed = await runTool('promtool', ['check', 'metrics'], { stdin: 'herald_events_published_total{topic="orders" 1\n' });
    expect(malformed.code).not.toBe(0);
  });
});
