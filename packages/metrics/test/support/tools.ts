import { execFile } from 'node:child_process';

/** The Debian package that ships each tool the monitoring tests run. */
const PACKAGES = { promtool: 'prometheus', amtool: 'prometheus-alertmanager' } as const;

/** What a tool run printed and how it ended. */
export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `promtool` or `amtool` with `args` (and `stdin` piped in when given). Fails with the exact
 * install command when the tool is missing, so a machine without it says what to do.
 */
export function runTool(tool: keyof typeof PACKAGES, args: readonly string[], options: { stdin?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(tool, args, { timeout: 60_000, cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new Error(`${tool} was not found; install it with \`apt-get install -y ${PACKAGES[tool]}\` (Debian/Ubuntu; CI does this in .ci/run).`));
        return;
      }
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    // a tool that exits before reading stdin closes the pipe: the error is its exit code, not ours
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.stdin ?? '');
  });
}
