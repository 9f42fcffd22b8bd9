import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLE_DIR } from './support/processes.js';

const REPO = join(EXAMPLE_DIR, '..', '..');
const COMPOSE_FILE = join(REPO, 'deploy', 'docker-compose.yml');
const PROMETHEUS_CONFIG = join(REPO, 'deploy', 'prometheus', 'prometheus.yml');
/** The ticket-orders services: the api serves /metrics on its HTTP port, the others on a metrics server. */
const HERALD_SERVICES = ['api', 'relay', 'payment', 'ticket', 'order'] as const;
const INSTALL_HINT = 'install it with `apt-get install -y docker-compose` (Debian/Ubuntu; CI does this in .ci/run)';

/** Runs docker-compose (the Debian package's v1 CLI); fails with what to install when it is missing. */
function compose(file: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('docker-compose', ['-f', file, ...args], { timeout: 30_000, env: { ...process.env, COMPOSE_PROJECT_NAME: 'herald-check' } }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new Error(`docker-compose was not found; validating deploy/docker-compose.yml needs it: ${INSTALL_HINT}.`));
        return;
      }
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The top-level blocks of each service in `docker-compose config` output (normalised YAML, two-space indents). */
function serviceBlocks(config: string): Map<string, string> {
  const blocks = new Map<string, string>();
  const lines = config.split('\n');
  const start = lines.indexOf('services:');
  let current: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break;
    const name = /^ {2}([\w-]+):$/.exec(line)?.[1];
    if (name) blocks.set((current = name), '');
    else if (current) blocks.set(current, `${blocks.get(current)}${line}\n`);
  }
  return blocks;
}

describe('deploy/docker-compose.yml', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'herald-compose-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('passes docker-compose config -q', async () => {
    const result = await compose(COMPOSE_FILE, ['config', '-q']);
    expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({ code: 0, stderr: '' });
  });

  it('runs the ticket-orders services against single-node KRaft Kafka and PostgreSQL 15, healthy first', async () => {
    const services = await compose(COMPOSE_FILE, ['config', '--services']);
    expect(services.stdout.trim().split('\n').sort()).toEqual(['alertmanager', 'api', 'grafana', 'kafka', 'kafka-exporter', 'order', 'payment', 'postgres', 'prometheus', 'relay', 'ticket']);
    const blocks = serviceBlocks((await compose(COMPOSE_FILE, ['config'])).stdout);

    const kafka = blocks.get('kafka')!;
    expect(kafka).toMatch(/image: apache\/kafka:/);
    for (const setting of ['KAFKA_PROCESS_ROLES: broker,controller', 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 1', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: 1', 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: 1']) {
      expect(kafka).toContain(setting);
    }
    expect(blocks.get('postgres')).toMatch(/image: postgres:15\n/);
    for (const infra of ['kafka', 'postgres', 'api']) expect(blocks.get(infra), infra).toContain('healthcheck:');

    const replicas = { api: 1, relay: 3, payment: 2, ticket: 2, order: 2 } as const;
    for (const [service, count] of Object.entries(replicas)) {
      const block = blocks.get(service)!;
      expect(block, service).toContain('dockerfile: deploy/Dockerfile');
      expect(block, service).toMatch(new RegExp(`HERALD_SERVICE: ${service}\\n`));
      expect(block, service).toContain('HERALD_KAFKA_BROKERS: kafka:9092');
      expect(block, service).toMatch(/DATABASE_URL: postgres:\/\/\S+@postgres:5432\//);
      expect(block.match(/condition: service_healthy/g), service).toHaveLength(2);
      if (count > 1) expect(block, service).toContain(`replicas: ${count}`);
      else expect(block, service).not.toContain('replicas:');
    }
  });

  it('gives every service a metrics endpoint that Prometheus scrapes, scrapes Kafka through kafka-exporter, and provisions Grafana and Alertmanager', async () => {
    const blocks = serviceBlocks((await compose(COMPOSE_FILE, ['config'])).stdout);
    const prometheus = readFileSync(PROMETHEUS_CONFIG, 'utf8');
    const staticTargets = [...prometheus.matchAll(/targets: \[([^\]]*)\]/g)].flatMap((m) => m[1]!.split(',').map((t) => t.trim().replace(/"/g, '')));
    const dnsNames = [...prometheus.matchAll(/names: \[([^\]]*)\]/g)].flatMap((m) => m[1]!.split(',').map((t) => t.trim()));
    const dnsPort = /type: A\n\s+port: (\d+)/.exec(prometheus)?.[1];
    for (const service of HERALD_SERVICES) {
      const block = blocks.get(service)!;
      if (service === 'api') {
        // the gateway's GET /metrics, on the api's own port
        expect(block, service).not.toContain('METRICS_PORT');
        expect(block).toMatch(/target: 8080\n/);
        expect(staticTargets).toContain('api:8080');
      } else {
        expect(block, service).toContain(`METRICS_PORT: '${dnsPort}'`);
        expect(block, service).toContain('METRICS_HOST: 0.0.0.0');
        expect(dnsNames, service).toContain(service);
      }
    }
    expect(staticTargets).toContain('alertmanager:9093');

    // Kafka's own health (prometheus/rules/kafka.yml): kafka-exporter at a pinned version, on the
    // compose's Kafka once it is healthy, scraped on its port as job kafka-exporter
    const exporter = blocks.get('kafka-exporter')!;
    expect(exporter).toMatch(/image: danielqsj\/kafka-exporter:v\d+\.\d+\.\d+\n/);
    expect(exporter).toMatch(/command:\n\s+- --kafka\.server=kafka:9092\n/);
    expect(exporter).toMatch(/depends_on:\n\s+kafka:\n\s+condition: service_healthy\n/);
    expect(prometheus).toMatch(/- job_name: kafka-exporter\n\s+static_configs:\n\s+- targets: \["kafka-exporter:9308"\]\n/);

    const prometheusBlock = blocks.get('prometheus')!;
    expect(prometheusBlock).toMatch(/image: prom\/prometheus:v\d+\.\d+\.\d+\n/);
    expect(prometheusBlock).toMatch(/deploy\/prometheus:\/etc\/prometheus:ro\n/);
    expect(prometheusBlock).toContain('--config.file=/etc/prometheus/prometheus.yml');

    const grafana = blocks.get('grafana')!;
    expect(grafana).toMatch(/image: grafana\/grafana-oss:\d+\.\d+\.\d+\n/);
    expect(grafana).toMatch(/deploy\/grafana\/provisioning:\/etc\/grafana\/provisioning:ro\n/);
    expect(grafana).toMatch(/deploy\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards:ro\n/);

    const alertmanager = blocks.get('alertmanager')!;
    expect(alertmanager).toMatch(/image: prom\/alertmanager:v\d+\.\d+\.\d+\n/);
    expect(alertmanager).toContain('/etc/alertmanager/render-config.sh');
    expect(alertmanager).toMatch(/deploy\/alertmanager\/secrets:\/run\/secrets\/alertmanager:ro\n/);
    expect(alertmanager).toContain('TELEGRAM_BOT_TOKEN_FILE: /run/secrets/alertmanager/telegram_bot_token');
  });

  it('the check can fail: a service depending on one that does not exist is refused', async () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(broken, 'services:\n  api:\n    image: node:20-slim\n    depends_on:\n      db:\n        condition: service_healthy\n');
    const result = await compose(broken, ['config', '-q']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/db/);
  });
});
