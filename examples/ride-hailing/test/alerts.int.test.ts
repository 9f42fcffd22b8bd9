import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GAUGES, HISTOGRAMS } from '@herald/metrics';
import { describe, expect, it } from 'vitest';
import { BOOKINGS_METRIC, DRIVER_HELD_AGE_METRIC, PAYMENTS_METRIC, PENDING_AGE_METRIC } from '../src/businessMetrics.js';
import { EXAMPLE_DIR } from './support/processes.js';

// Seed 000's "sagas failing often" and "fraud-group must be fast" alerts, and the stuck-saga ones, checked and unit-tested by the real promtool (Debian's
// `prometheus` package; CI installs it).

const RULES = join(EXAMPLE_DIR, 'prometheus');

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd: RULES, timeout: 60_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('promtool was not found; install it with `apt-get install -y prometheus`'));
      else resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('ride-hailing alert rules', () => {
  it('pass promtool check rules, and name only the business gauges the services expose (and Herald\'s own metrics)', async () => {
    expect(await promtool(['check', 'rules', 'rules.yml'])).toEqual({ code: 0, out: expect.stringContaining('SUCCESS: 4 rules found') });
    const names = new Set([...readFileSync(join(RULES, 'rules.yml'), 'utf8').matchAll(/\b(ride_[a-z_]+)[{)]/g)].map((m) => m[1]));
    // the expressions query the bookings and held-driver gauges; a description points at the payments one
    expect([...names].sort()).toEqual([BOOKINGS_METRIC, PENDING_AGE_METRIC, DRIVER_HELD_AGE_METRIC, PAYMENTS_METRIC].sort());
    // the fraud-group's alert reads Herald's metrics, by the names @herald/metrics gives them
    const herald = new Set([...readFileSync(join(RULES, 'rules.yml'), 'utf8').matchAll(/\b(herald_[a-z_]+)\{/g)].map((m) => m[1]));
    expect([...herald].sort()).toEqual([`${HISTOGRAMS.criticalTime.name}_bucket`, GAUGES.lag.name].sort());
  });

  it('pass their unit tests: a third cancelled fires, a tenth or a quiet hour does not; a booking pending 5 minutes fires, and a driver held 5 minutes after the ride; a slow or stopped fraud-group fires', async () => {
    expect(await promtool(['test', 'rules', 'rules.test.yml'])).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
  });
});
