// vitest globalSetup: the integration tests need a Kafka-protocol broker (kcat's librdkafka mock
// cluster), PostgreSQL 15 server binaries and docker-compose (to validate deploy/). On a machine
// where we are root and apt is available (a fresh developer machine or CI), install what is
// missing; otherwise stop with the exact command.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const requirements = [
  { name: 'kcat', present: () => spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0, apt: 'kcat' },
  { name: 'PostgreSQL 15 server', present: () => existsSync('/usr/lib/postgresql/15/bin/initdb'), apt: 'postgresql-15' },
  { name: 'docker-compose (validates deploy/)', present: () => spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0, apt: 'docker-compose' },
];

export default function setup(): void {
  const missing = requirements.filter((r) => !r.present());
  if (missing.length === 0) return;
  const packages = missing.map((r) => r.apt);
  const command = `apt-get install -y ${packages.join(' ')}`;
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!canInstall) {
    throw new Error(`Herald's integration tests need ${missing.map((r) => r.name).join(' and ')}. Install with: sudo ${command}`);
  }
  process.stderr.write(`installing test prerequisites: ${command}\n`);
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const still = missing.filter((r) => !r.present());
  if (still.length > 0) throw new Error(`could not install ${still.map((r) => r.name).join(', ')}; run: sudo ${command}`);
}
