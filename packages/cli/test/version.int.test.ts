import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { herald, memoryEngine } from './support.js';

describe('herald --version', () => {
  it("prints the package's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await herald(memoryEngine().engine, [flag])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});
