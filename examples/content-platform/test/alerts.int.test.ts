import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COUNTERS, GAUGES, HISTOGRAMS } from '@herald/metrics';
import { describe, expect, it } from 'vitest';
import { DELETED_COMMENTABLE_AGE_METRIC, DELETED_COMMENTABLE_METRIC } from '../src/businessMetrics.js';
import { EXAMPLE_DIR } from './support/processes.js';

// Seed 002's success criteria (a consumer lag under a second at p95, a publish under 100 ms) and a
// deleted post that comment still takes comments on, as alerts, checked and unit-tested by the real
// promtool (Debian's `prometheus` package; CI installs it).

const RULES = join(EXAMPLE_DIR, 'prometheus');

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd: RULES, timeout: 60_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('promtool was not found; install it with `apt-get install -y prometheus`'));
      else resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('content-platform alert rules', () => {
  it("pass promtool check rules, and read only Herald's metrics, by the names @herald/metrics gives them, and the gauges the services expose", async () => {
    expect(await promtool(['check', 'rules', 'rules.yml'])).toEqual({ code: 0, out: expect.stringContaining('SUCCESS: 3 rules found') });
    // the expression queries the age gauge; a description points at the count
    const business = new Set([...readFileSync(join(RULES, 'rules.yml'), 'utf8').matchAll(/\b(content_[a-z_]+)\b/g)].map((m) => m[1]));
    expect([...business].sort()).toEqual([DELETED_COMMENTABLE_METRIC, DELETED_COMMENTABLE_AGE_METRIC].sort());
    const names = new Set([...readFileSync(join(RULES, 'rules.yml'), 'utf8').matchAll(/\b(herald_[a-z_]+)[{[)]/g)].map((m) => m[1]));
    expect([...names].sort()).toEqual(
      [`${HISTOGRAMS.criticalTime.name}_bucket`, `${HISTOGRAMS.relayDuration.name}_bucket`, GAUGES.lag.name, COUNTERS.handled.name].sort(),
    );
  });

  it('pass their unit tests: a group over a second behind at p95 fires, one within half a second does not; a stopped group fires, a busy one does not; a relay over 100 ms fires; a deletion comment has not applied for 5 minutes fires, one applied within 4 does not', async () => {
    expect(await promtool(['test', 'rules', 'rules.test.yml'])).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
  });
});
