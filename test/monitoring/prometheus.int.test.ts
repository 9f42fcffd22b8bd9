import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTool } from '../../packages/metrics/test/support/tools.js';
import { DEPLOY, filesIn, ruleExpressions, RULE_TESTS_DIR, RULES_DIR } from './promql.js';

const PROMETHEUS_DIR = join(DEPLOY, 'prometheus');
const ruleFiles = filesIn(RULES_DIR, '.yml');
const ruleTests = filesIn(RULE_TESTS_DIR, '.test.yml');
/** The alerts every deployment of Herald gets (issue 9; seed 000), and Kafka's own health (seed 000: broker down, partitions that lost replicas). */
const REQUIRED_ALERTS = [
  'HeraldConsumerLagHigh', 'HeraldDeadLettersGrowing', 'HeraldRelayFailing', 'HeraldOutboxOldestTooOld', 'HeraldHandlerErrorRatioHigh', 'HeraldSagasFailing', 'HeraldTargetDown',
  'KafkaUnderReplicatedPartitions', 'KafkaPartitionsOffline', 'KafkaBrokersMissing', 'KafkaExporterDown',
];

function alertNames(files: readonly string[] = ruleFiles): string[] {
  return files.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((m) => m[1]!));
}

describe('deploy/prometheus', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'herald-prometheus-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('prometheus.yml passes promtool check config, rule files included', async () => {
    const result = await runTool('promtool', ['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')]);
    expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
    for (const file of ruleFiles) expect(result.stdout).toContain(`${basename(file)}\n  SUCCESS: ${alertNames([file]).length} rules found`);
  });

  it('the rules pass promtool check rules and have the alerts issue 9 asks for', async () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    for (const file of ruleFiles) {
      const result = await runTool('promtool', ['check', 'rules', file]);
      expect({ file: basename(file), code: result.code }).toEqual({ file: basename(file), code: 0 });
      const count = Number(/SUCCESS: (\d+) rules found/.exec(result.stdout)?.[1]);
      expect(ruleExpressions(readFileSync(file, 'utf8')), `every rule's expr of ${basename(file)} is read by the dashboards test`).toHaveLength(count);
    }
    expect(alertNames()).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
    expect(readFileSync(ruleFiles[0]!, 'utf8')).toMatch(/herald_consumer_lag\)\) > 10000\n/);
  });

  it('the rule unit tests pass promtool test rules, and test every alert firing and not firing', async () => {
    expect(ruleTests.length).toBeGreaterThan(0);
    for (const file of ruleTests) {
      const result = await runTool('promtool', ['test', 'rules', file]);
      expect({ file: basename(file), code: result.code, out: result.stdout.trim() }).toEqual({ file: basename(file), code: 0, out: expect.stringContaining('SUCCESS') });
    }
    const tests = ruleTests.map((file) => readFileSync(file, 'utf8')).join('\n');
    for (const alert of alertNames()) {
      const checks = [...tests.matchAll(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:(.*)`, 'g'))].map((m) => m[1]!.trim());
      expect(checks, `${alert}: a time where it must not fire`).toContain('[]');
      expect(checks, `${alert}: a time where it fires`).toContain('');
    }
  });

  it('the rule tests can fail: with the lag threshold raised, chaos counted as a relay error, a saga ratio read on too few sagas, a few late records or a brief punctuation failure alerting, the exporter counted as a Herald target, or a Kafka rule weakened, they do', async () => {
    for (const [name, from, to] of [
      ['herald', 'herald_consumer_lag)) > 10000', 'herald_consumer_lag)) > 20000'],
      ['herald', 'herald_relay_failures_total{cause="error"}', 'herald_relay_failures_total'],
      ['herald', 'transition=~"completed|failed"}[10m])) >= 10', 'transition=~"completed|failed"}[10m])) >= 1'],
      ['herald', 'increase(herald_stream_late_records_total[10m])\n          ) >= 10', 'increase(herald_stream_late_records_total[10m])\n          ) >= 1'],
      ['herald', 'herald_stream_punctuation_failures_total[2m]', 'herald_stream_punctuation_failures_total[10m]'],
      ['herald', 'up{job!="kafka-exporter"} == 0', 'up == 0'],
      ['kafka', '(kafka_topic_partition_under_replicated_partition) > 0', '(kafka_topic_partition_under_replicated_partition) > 2'],
      ['kafka', 'kafka_topic_partition_replicas unless kafka_topic_partition_leader', 'kafka_topic_partition_replicas unless on (topic) kafka_topic_partition_leader'],
      ['kafka', 'kafka_brokers < 1', 'kafka_brokers < 0'],
      ['kafka', 'absent(up{job="kafka-exporter"} == 1)', 'absent(up{job="kafka-exporter"})'],
    ] as const) {
      const dir = mkdtempSync(join(scratch, 'mutant-'));
      cpSync(PROMETHEUS_DIR, dir, { recursive: true });
      const rules = join(dir, 'rules', `${name}.yml`);
      const text = readFileSync(rules, 'utf8');
      expect(text).toContain(from);
      writeFileSync(rules, text.replace(from, to));
      const result = await runTool('promtool', ['test', 'rules', join(dir, 'tests', `${name}.test.yml`)]);
      expect({ mutation: to, code: result.code }).toEqual({ mutation: to, code: 1 });
    }
  });

  it('promtool check rules can fail: an expression that does not parse is refused', async () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(broken, 'groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum by (group (herald_consumer_lag) > 1\n');
    expect((await runTool('promtool', ['check', 'rules', broken])).code).not.toBe(0);
  });
});
