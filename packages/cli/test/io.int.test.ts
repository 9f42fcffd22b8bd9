import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES, main, processIo, type CliEngine } from '../src/index.js';
import { letter, memoryEngine } from './support.js';

// The real process io (`processIo`), on streams the test holds: the prompt as a person answers it,
// a reader that goes away (`herald tail ... | head -1`), and a slow one.

/** processIo listens for SIGINT and SIGTERM for the process's lifetime: each test takes its own back. */
const signalListeners = () => [...process.listeners('SIGINT'), ...process.listeners('SIGTERM')];
let before = signalListeners();
afterEach(() => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) if (!before.includes(listener)) process.removeListener(signal, listener);
  }
  before = signalListeners();
});

const envelope = (seq: number) =>
  JSON.stringify({ id: `0190a5b0-0000-7000-8000-${String(seq).padStart(12, '0')}`, type: 'Step', version: 1, topic: 'steps', key: 'a', correlationId: 'c', causationId: null, occurredAt: '2025-06-01T12:00:00.000Z', headers: {}, data: { seq } });

/** An engine over `m` whose close is seen. */
function watched(m: ReturnType<typeof memoryEngine>): { engine: CliEngine; closed: () => boolean } {
  let closed = false;
  return { engine: { ...m.engine, close: async () => void (closed = true) }, closed: () => closed };
}

describe('processIo', () => {
  it('returns the line typed at the prompt, so a "y" confirms, and no answer when stdin ends', async () => {
    const dead = letter();
    const m = memoryEngine();
    await m.stores.deadLetters.add(dead);
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    const stderr = new PassThrough({ encoding: 'utf8' });
    const io = processIo({ stdin, stdout: new PassThrough(), stderr });
    // the operator reads the question, then types y
    stderr.on('data', (text: string) => {
      if (text.includes('[y/N]')) setImmediate(() => stdin.write('y\n'));
    });
    expect(await main(['dlq', 'discard', dead.id], io, { open: async () => m.engine })).toBe(0);
    expect((await m.stores.deadLetters.list({ ids: [dead.id] }))[0]!.status).toBe('discarded');

    const ended = processIo({ stdin, stdout: new PassThrough(), stderr: new PassThrough() });
    const answer = ended.ask('Proceed? [y/N] ');
    stdin.end();
    expect(await answer).toBe('');
  });

  it('takes Ctrl-C at the prompt as an interruption (exit 130), not as "no", and changes nothing', async () => {
    const dead = letter();
    const m = memoryEngine();
    await m.stores.deadLetters.add(dead);
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    // a terminal on stderr too: readline reads keys, and Ctrl-C reaches it as a key, not as SIGINT
    const stderr = Object.assign(new PassThrough({ encoding: 'utf8' }), { isTTY: true, columns: 80 });
    let said = '';
    stderr.on('data', (text: string) => {
      said += text;
      if (text.includes('[y/N]')) setImmediate(() => stdin.write('\u0003'));
    });
    const io = processIo({ stdin, stdout: new PassThrough(), stderr });
    expect(await main(['dlq', 'discard', dead.id], io, { open: async () => m.engine })).toBe(EXIT_CODES.interrupted);
    expect(said).toContain('interrupted at the confirmation prompt: nothing was changed');
    expect((await m.stores.deadLetters.list({ ids: [dead.id] }))[0]!.status).toBe('dead');
  });

  it('stops tail quietly when its reader goes away (EPIPE), and closes the engine', async () => {
    const m = memoryEngine();
    await m.broker.publish(Array.from({ length: 50 }, (_, seq) => ({ topic: 'steps', key: 'a', value: envelope(seq) })));
    let lines = 0;
    // `| head -1`: the first line is read, then the pipe is closed
    const stdout = new Writable({
      write(_chunk, _encoding, callback) {
        callback(++lines > 1 ? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) : null);
      },
    });
    const stderr = new PassThrough({ encoding: 'utf8' });
    const { engine, closed } = watched(m);
    const code = await main(['tail', 'steps', '--from', 'beginning'], processIo({ stdin: new PassThrough(), stdout, stderr }), { open: async () => engine });
    expect(code).toBe(0);
    expect(closed()).toBe(true);
    expect(stderr.read()).toBe('following steps (2 partitions) from the beginning; Ctrl-C to stop\n');
    expect(lines).toBe(2);
  });

  it('holds tail back while stdout drains, rather than buffering every record', async () => {
    const m = memoryEngine();
    await m.broker.publish(Array.from({ length: 50 }, (_, seq) => ({ topic: 'steps', key: 'a', value: envelope(seq) })));
    const written: number[] = [];
    let buffered = 0;
    // a slow reader: one line a millisecond, with a small buffer
    const stdout = new Writable({
      highWaterMark: 256,
      write(chunk: Buffer, _encoding, callback) {
        buffered = Math.max(buffered, this.writableLength);
        written.push((JSON.parse(chunk.toString()) as { event: { data: { seq: number } } }).event.data.seq);
        setTimeout(callback, 1);
      },
    });
    const io = processIo({ stdin: new PassThrough(), stdout, stderr: new PassThrough() });
    expect(await main(['tail', 'steps', '--from', 'beginning', '--no-follow', '--json'], io, { open: async () => m.engine })).toBe(EXIT_CODES.ok);
    await new Promise((resolve) => stdout.end(resolve));
    expect(written).toEqual(Array.from({ length: 50 }, (_, seq) => seq));
    const line = envelope(0).length + 200;
    expect(buffered, 'at most the buffer and the line that filled it').toBeLessThan(256 + line);
  });
});
