// What a user installs: the tarballs `npm pack` makes of @herald/core, @herald/sql and @herald/sqlite, installed
// into a fresh project outside the workspace, run with plain node (no tsx, no source condition)
// and type-checked by a TypeScript consumer. better-sqlite3 compiles from source during the install
// when no prebuilt binary can be downloaded, hence the long, but bounded, timeouts.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const PACKED = ['@herald/core', '@herald/sql', '@herald/sqlite'];
const MINUTE = 60_000;

interface Packed {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

// npm_* variables left by `npm test` describe the workspace; the user's npm must not see them.
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));

function run(file: string, args: readonly string[], options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...userEnv, ...options.env };
    execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout.slice(-4_000)}\n${stderr.slice(-4_000)}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

const HELLO = `import { Type } from '@sinclair/typebox';
import { createApp, defineEvent } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';

const Greeted = defineEvent({
  type: 'Greeted', topic: 'greetings', key: (d) => d.name,
  schema: Type.Object({ name: Type.String({ minLength: 1 }) }),
});

const app = createApp({ ...sqliteEngine({ dataDir: '.herald/hello' }) });
app.on(Greeted, { group: 'greeter' }, async (event) => {
  console.log(\`hello, \${event.data.name}\`);
  setImmediate(() => void app.close()); // one greeting, then exit
});
await app.start();
await app.publish(Greeted, { name: 'world' });
`;

// The same program in TypeScript, plus a publish the declarations must refuse: were the types
// missing or \`any\`, the @ts-expect-error would itself be an error.
const HELLO_TS = `${HELLO.replace("const Greeted", "export const Greeted")}
// @ts-expect-error name must be a string
export const wrong = () => app.publish(Greeted, { name: 42 });
`;

describe('the packages a user installs (npm pack, then npm install outside the workspace)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'herald-packaging-'));
  const project = join(scratch, 'app');
  let packed: Packed[] = [];
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  beforeAll(async () => {
    const tarballs = join(scratch, 'tarballs');
    mkdirSync(tarballs);
    mkdirSync(project);
    // prepack builds each package (tsc -b): the tarballs carry dist/, never src/
    const out = await run('npm', ['pack', '--json', '--pack-destination', tarballs, ...PACKED.flatMap((name) => ['-w', name])], { cwd: REPO, timeoutMs: 5 * MINUTE });
    packed = JSON.parse(out) as Packed[];
    const core = JSON.parse(readFileSync(join(REPO, 'packages', 'core', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const manifest = {
      name: 'herald-hello',
      private: true,
      type: 'module',
      dependencies: {
        ...Object.fromEntries(packed.map((p) => [p.name, `file:${join(tarballs, p.filename)}`])),
        '@sinclair/typebox': core.dependencies['@sinclair/typebox'],
      },
      devDependencies: { '@types/node': '^20.19.0' },
      allowScripts: { 'better-sqlite3': true },
    };
    writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(project, 'hello.mjs'), HELLO);
    writeFileSync(join(project, 'hello-thread.mjs'), HELLO.replace("dataDir: '.herald/hello'", "dataDir: '.herald/hello-thread', relayThread: true"));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, timeoutMs: 15 * MINUTE });
  }, 21 * MINUTE);

  it('packs compiled JavaScript with declarations and an exports map, and no TypeScript sources', () => {
    expect(packed.map((p) => p.name).sort()).toEqual([...PACKED].sort());
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      expect(files, p.name).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts']));
      expect(files.filter((f) => f.startsWith('src/') || f.endsWith('.tsbuildinfo')), p.name).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules', ...p.name.split('/'), 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest.exports, p.name).toMatchObject({ '.': { types: './dist/index.d.ts', default: './dist/index.js' } });
      expect(manifest.private, p.name).toBeUndefined();
    }
  });

  it('runs the README hello world with plain node: publishes, handles, exits', async () => {
    const stdout = await run(process.execPath, ['hello.mjs'], { cwd: project, timeoutMs: MINUTE, env: { HERALD_LOG_LEVEL: 'warn' } });
    expect(stdout.trim().split('\n')).toEqual(['hello, world']);
  }, 2 * MINUTE);

  it('runs it with the relay in its worker thread, whose entry is the compiled file', async () => {
    const stdout = await run(process.execPath, ['hello-thread.mjs'], { cwd: project, timeoutMs: MINUTE, env: { HERALD_LOG_LEVEL: 'warn' } });
    expect(stdout.trim().split('\n')).toEqual(['hello, world']);
  }, 2 * MINUTE);

  it('installs neither kafkajs nor pg: the embedded engine does not pull the Kafka + PostgreSQL adapters', async () => {
    const tree = (await run('npm', ['ls', '--all', '--parseable'], { cwd: project, timeoutMs: MINUTE })).trim().split('\n');
    const installed = tree.map((path) => path.split(`${sep}node_modules${sep}`).at(-1));
    expect(installed).toContain('better-sqlite3');
    expect(installed.filter((name) => name === 'kafkajs' || name === 'pg' || name?.startsWith('pg-'))).toEqual([]);
  }, 2 * MINUTE);

  it('type-checks a TypeScript consumer against the installed declarations', async () => {
    writeFileSync(join(project, 'hello.ts'), HELLO_TS);
    const tsconfig = {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
      files: ['hello.ts'],
    };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(run(process.execPath, [tsc, '-p', project], { cwd: project, timeoutMs: 2 * MINUTE })).resolves.toBe('');
  }, 3 * MINUTE);
});
