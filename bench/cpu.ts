// CPU time of the servers a measured run started (Linux /proc), for bench/profile.ts: where the
// machine's time goes besides this Node process.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** CPU seconds used so far by the processes of one run, by role. */
export interface CpuSeconds {
  readonly node: number;
  readonly postgres: number;
  readonly kafkaMock: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux Node supports

interface Stat {
  readonly ppid: number;
  /** utime + stime of the process itself. */
  readonly own: number;
  /** cutime + cstime: children it has reaped (a postmaster's finished backends). */
  readonly reaped: number;
}

function stat(pid: number): Stat | undefined {
  try {
    // the command name may hold spaces: fields are counted after its closing parenthesis
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const n = (i: number) => Number(fields[i]) / TICKS_PER_SECOND;
    return { ppid: Number(fields[1]), own: n(11) + n(12), reaped: n(13) + n(14) };
  } catch {
    return undefined; // exited meanwhile
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The postmaster serving `port`: a `postgres -D dir` process whose `dir/postmaster.pid` names that port. */
function postmasterOf(port: number, pids: readonly number[]): number | undefined {
  for (const pid of pids) {
    const args = cmdline(pid);
    const d = args.indexOf('-D');
    if (!args[0]?.endsWith('/postgres') || d < 0 || !args[d + 1]) continue;
    try {
      const lines = readFileSync(join(args[d + 1]!, 'postmaster.pid'), 'utf8').split('\n');
      if (Number(lines[3]) === port) return pid;
    } catch {
      // not readable or gone: not ours
    }
  }
  return undefined;
}

/**
 * CPU seconds of this process, of the PostgreSQL cluster listening on `databaseUrl`'s port (the
 * postmaster, its live backends and those it reaped) and of this process' `kcat` children (the mock
 * Kafka cluster). Read before the servers stop; zeros where /proc cannot tell or no server was given.
 */
export function cpuSeconds(databaseUrl?: string): CpuSeconds {
  const usage = process.resourceUsage();
  const node = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  let pids: number[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return { node, postgres: 0, kafkaMock: 0 };
  }
  const stats = new Map(pids.map((pid) => [pid, stat(pid)] as const));
  const port = databaseUrl ? Number(new URL(databaseUrl).port) : undefined;
  const postmaster = port ? postmasterOf(port, pids) : undefined;
  let postgres = 0;
  let kafkaMock = 0;
  for (const [pid, s] of stats) {
    if (!s) continue;
    if (postmaster !== undefined && pid === postmaster) postgres += s.own + s.reaped;
    else if (postmaster !== undefined && s.ppid === postmaster) postgres += s.own;
    else if (s.ppid === process.pid && cmdline(pid)[0]?.endsWith('kcat')) kafkaMock += s.own;
  }
  return { node, postgres, kafkaMock };
}
