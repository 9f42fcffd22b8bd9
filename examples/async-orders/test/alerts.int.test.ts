import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFUND_OWED_AGE_METRIC, REFUNDS_OWED_CENTS_METRIC } from '../src/businessMetrics.js';
import { EXAMPLE_DIR } from './support/processes.js';

// Seed 004's money owed to customers as an alert, checked and unit-tested by the real promtool
// (Debian's `prometheus` package; CI installs it).

const RULES = join(EXAMPLE_DIR, 'prometheus');

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { cwd: RULES, timeout: 60_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('promtool was not found; install it with `apt-get install -y prometheus`'));
      else resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('async-orders alert rules', () => {
  it('pass promtool check rules, and name only the gauges the services expose', async () => {
    expect(await promtool(['check', 'rules', 'rules.yml'])).toEqual({ code: 0, out: expect.stringContaining('SUCCESS: 1 rules found') });
    const rules = readFileSync(join(RULES, 'rules.yml'), 'utf8');
    // the expression queries the age gauge; the description points at the amount one
    const names = new Set([...rules.matchAll(/\b(orders_[a-z_]+)\b/g)].map((m) => m[1]));
    expect([...names].sort()).toEqual([REFUND_OWED_AGE_METRIC, REFUNDS_OWED_CENTS_METRIC].sort());
    expect(rules).toContain(`max(${REFUND_OWED_AGE_METRIC}) > 300`);
  });

  it('pass their unit tests: a refund owed 5 minutes fires, one given back within 4 does not', async () => {
    expect(await promtool(['test', 'rules', 'rules.test.yml'])).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
  });
});
