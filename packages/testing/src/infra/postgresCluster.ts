/**
 * Throwaway PostgreSQL clusters for integration tests, without Docker: `initdb` into a fresh temp
 * directory, start on loopback at a free port, hand out databases, stop and delete everything.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian and Ubuntu's `postgresql-15` package puts the server binaries. */
export const DEFAULT_POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin';

export interface PostgresClusterOptions {
  /** Directory holding `initdb`, `pg_ctl` and `createdb`. Default {@link DEFAULT_POSTGRES_BIN_DIR}. */
  readonly binDir?: string;
  /** Bound for each of initdb, start and stop. Default 60 000. */
  readonly timeoutMs?: number;
  /** Extra `postgresql.conf` settings, written after (and so overriding) the test defaults. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/** A running throwaway cluster. Superuser `postgres`, trust authentication, 127.0.0.1 only. */
export interface PostgresCluster {
  /** Connection URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** Creates a database (name: letters, digits, `_`) and returns its connection URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (`pg_ctl stop -m fast`) and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Settings tuned for tests: small memory, many connections, fsync left on (durability is tested). */
const TEST_SETTINGS: Readonly<Record<string, string | number>> = {
  listen_addresses: "'127.0.0.1'",
  max_connections: 200,
  shared_buffers: "'64MB'",
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  max_wal_size: "'256MB'",
  checkpoint_timeout: "'5min'",
  log_min_messages: 'warning',
  log_min_error_statement: 'panic',
  deadlock_timeout: "'100ms'",
  dynamic_shared_memory_type: 'posix',
};

const INSTALL_HINT =
  'install the PostgreSQL 15 server: `apt-get install -y postgresql-15` (Debian/Ubuntu; CI does this in .ci/run)';

/**
 * Starts a throwaway PostgreSQL 15 cluster: `initdb` in a new temp directory (run as the `postgres`
 * OS user when this process is root, since initdb refuses root; as the current user otherwise),
 * `listen_addresses=127.0.0.1`, a free port, fsync on, then waits until it accepts connections.
 *
 * Contract: throws (never skips) when the binaries are missing, with the package to install in the
 * message. The caller must `stop()` it (e.g. in `afterAll`); as a safety net the server is also
 * stopped when the Node process exits.
 *
 * @example
 * let pg: PostgresCluster;
 * beforeAll(async () => { pg = await startPostgresCluster(); });
 * afterAll(() => pg.stop());
 * it('works', async () => { const url = await pg.createDatabase('t1'); ... });
 */
export async function startPostgresCluster(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
  const binDir = options.binDir ?? DEFAULT_POSTGRES_BIN_DIR;
  const timeoutMs = options.timeoutMs ?? 60_000;
  for (const tool of ['initdb', 'pg_ctl', 'postgres', 'createdb']) {
    if (!existsSync(join(binDir, tool))) {
      throw new Error(`PostgreSQL test cluster: ${join(binDir, tool)} not found; ${INSTALL_HINT}`);
    }
  }
  const runAs = osUserForServer();
  const root = mkdtempSync(join(tmpdir(), 'herald-pg-'));
  const dataDir = join(root, 'data');
  if (runAs) chownSync(root, runAs.uid, runAs.gid);
  const run = (tool: string, args: readonly string[]) => runTool({ binDir, tool, args, runAs, timeoutMs });

  let stopped = false;
  const onExit = () => {
    if (stopped) return;
    spawnSync(...command({ binDir, tool: 'pg_ctl', args: ['-D', dataDir, '-m', 'immediate', 'stop'], runAs }), { stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    const port = await startOnFreePort({ run, root, dataDir, settings: options.settings });
    process.once('exit', onExit);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return {
      url,
      port,
      async createDatabase(name) {
        if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`PostgreSQL test cluster: bad database name ${JSON.stringify(name)}`);
        await run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', onExit);
        try {
          await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), 'stop']);
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    onExit();
    stopped = true;
    throw error;
  }
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

/** The `postgres` OS user when running as root (initdb refuses root), else null: run as ourselves. */
function osUserForServer(): OsUser | null {
  if (process.getuid?.() !== 0) return null;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(`PostgreSQL test cluster: running as root needs the 'postgres' OS user (initdb refuses root), which is missing; ${INSTALL_HINT}`);
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

type Run = (tool: string, args: readonly string[]) => Promise<string>;

/**
 * Picks a free port and starts the server on it. Another process may grab the port between the
 * probe and the start, so a failed start is retried on a new port a few times.
 */
async function startOnFreePort(options: {
  run: Run;
  root: string;
  dataDir: string;
  settings: Readonly<Record<string, string | number>> | undefined;
}): Promise<number> {
  const { run, root, dataDir } = options;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const settings = { ...TEST_SETTINGS, port, unix_socket_directories: `'${root}'`, ...options.settings };
    // postgresql.auto.conf is read after postgresql.conf, so these win; it is owned by the server user.
    const conf = Object.entries(settings).map(([name, value]) => `${name} = ${value}`).join('\n');
    writeFileSync(join(dataDir, 'postgresql.auto.conf'), `${conf}\n`);
    try {
      await run('pg_ctl', ['-D', dataDir, '-l', join(root, 'server.log'), '-w', '-t', '60', 'start']);
      return port;
    } catch (error) {
      lastError = new Error(`${(error as Error).message}\nserver log:\n${logTail(join(root, 'server.log'))}`, { cause: error });
    }
  }
  throw lastError;
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no server log)';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function command(options: { binDir: string; tool: string; args: readonly string[]; runAs: OsUser | null }): [string, string[]] {
  const executable = join(options.binDir, options.tool);
  return options.runAs ? ['runuser', ['-u', 'postgres', '--', executable, ...options.args]] : [executable, [...options.args]];
}

function runTool(options: { binDir: string; tool: string; args: readonly string[]; runAs: OsUser | null; timeoutMs: number }): Promise<string> {
  const [file, args] = command(options);
  return new Promise((resolve, reject) => {
    // cwd: a directory the postgres user can enter (ours may not be).
    execFile(file, args, { cwd: '/', timeout: options.timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`PostgreSQL test cluster: ${options.tool} failed: ${error.message.trim()}\n${stderr.trim()}`, { cause: error }));
      } else {
        resolve(stdout);
      }
    });
  });
}
