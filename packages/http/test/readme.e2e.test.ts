import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, extractSnippets } from '../../../test/docSnippets.js';

// The README's first gateway example, run as written: test/docSnippets.unit.test.ts only
// type-checks it, and a snippet that compiles can still fail on its first request (a table it
// never creates). The one change is the port: 0 instead of a fixed one, so the test needs no free
// port, and a line after the snippet that tells the test where it listens.
const README = 'packages/http/README.md';
const LISTEN = /await gateway\.listen\(\{ port: \d+ \}\);/;
const LISTENING = 'readme-snippet listening on ';

function firstGatewaySnippet(): string {
  const { snippets } = extractSnippets(README, readFileSync(join(ROOT, README), 'utf8'));
  const found = snippets.find((s) => s.fragment === undefined && s.code.includes('createGateway('));
  if (!found) throw new Error(`${README} has no checked snippet calling createGateway`);
  if (!LISTEN.test(found.code)) throw new Error(`${README}:${found.line}: the snippet no longer calls gateway.listen({ port }) as this test expects`);
  return `${found.code.replace(LISTEN, 'const listening = await gateway.listen({ port: 0 });')}console.log('${LISTENING}' + listening.url);\n`;
}

const dir = mkdtempSync(join(tmpdir(), 'herald-http-readme-'));
let child: ChildProcess;
let output = '';
let url: string;

beforeAll(async () => {
  // the snippet imports @herald/* and typebox as an application next to the repository would
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'main.mts'), firstGatewaySnippet());
  child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'main.mts'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the snippet did not start in 30 s:\n${output}`)), 30_000);
    child.stdout!.on('data', () => {
      const line = output.split('\n').find((l) => l.startsWith(LISTENING));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line.slice(LISTENING.length));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the snippet exited with ${code} before listening:\n${output}`));
    });
  });
});

afterAll(() => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe("the README's first gateway example, run as written", () => {
  it('creates an order on POST /orders: 201 with the new id', async () => {
    const res = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'readme-1' },
      body: JSON.stringify({ item: 'book' }),
    });
    const body: unknown = await res.json();
    expect({ status: res.status, body }, output).toEqual({ status: 201, body: { orderId: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
  });

  it('answers ready, and shuts down cleanly on SIGTERM (shutdown.handleSignals)', async () => {
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  });
});
