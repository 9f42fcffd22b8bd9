// Run by `npm test` before vitest. The Kafka, PostgreSQL and deploy/ tests need kcat (librdkafka's
// mock cluster), the PostgreSQL 15 server binaries, docker-compose, and promtool and amtool (which
// check the metrics exposition, the Prometheus rules and the Alertmanager configuration). Each of
// those tests checks for its program itself and fails with the command that installs it, so a run
// of other tests (`npx vitest run packages/core`) needs none of them. For `npm test` on a fresh machine where we
// are root with apt (a container, CI), this installs what is missing first, in this one process,
// before any test file starts; elsewhere it only says what the failing tests will ask for.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const requirements = [
  { name: 'kcat', present: () => spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0, apt: 'kcat' },
  { name: 'PostgreSQL 15 server', present: () => existsSync('/usr/lib/postgresql/15/bin/initdb'), apt: 'postgresql-15' },
  { name: 'docker-compose', present: () => spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0, apt: 'docker-compose' },
  { name: 'promtool', present: () => spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0, apt: 'prometheus' },
  { name: 'amtool', present: () => spawnSync('amtool', ['--version'], { stdio: 'ignore' }).status === 0, apt: 'prometheus-alertmanager' },
];

const missing = requirements.filter((r) => !r.present());
if (missing.length > 0) {
  const packages = missing.map((r) => r.apt);
  const command = `apt-get install -y ${packages.join(' ')}`;
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (canInstall) {
    install(packages, command);
  } else {
    process.stderr.write(
      `The Kafka, PostgreSQL, metrics and deploy/ tests need ${missing.map((r) => r.name).join(' and ')} and will fail without. Install with: sudo ${command}\n`,
    );
  }
}

function install(packages: readonly string[], command: string): void {
  process.stderr.write(`installing test prerequisites: ${command}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const aptInstall = () => execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
  try {
    aptInstall();
  } catch {
    // a fresh machine's package lists may be stale or empty
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    aptInstall();
  }
  const still = requirements.filter((r) => packages.includes(r.apt) && !r.present());
  if (still.length > 0) throw new Error(`could not install ${still.map((r) => r.name).join(', ')}; run: sudo ${command}`);
}
