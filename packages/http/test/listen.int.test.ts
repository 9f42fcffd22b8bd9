import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpErrorCodes } from '../src/index.js';
import { fixture, type Fixture } from './support.js';

describe('gateway.listen when the system refuses', () => {
  let f: Fixture;
  let blocker: Server | undefined;
  afterEach(async () => {
    await f.gateway.close();
    await f.app.close();
    if (blocker) await new Promise((resolve) => blocker!.close(resolve));
    blocker = undefined;
  });

  it('fails with listen-failed naming the address and the way out when the port is in use; close still works', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    f = fixture();
    const failed: unknown = await f.gateway.listen({ port, host: '127.0.0.1' }).catch((error: unknown) => error);
    expect(failed).toMatchObject({
      name: 'HeraldError',
      code: HttpErrorCodes.listenFailed,
      retriable: false,
      message: expect.stringMatching(new RegExp(`^http: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*choose a free port, or 0`)),
      details: { host: '127.0.0.1', port, systemCode: 'EADDRINUSE' },
      cause: expect.objectContaining({ code: 'EADDRINUSE', syscall: 'listen' }),
    });
  });

  it('fails with listen-failed when the host is no address of this machine', async () => {
    f = fixture();
    // 192.0.2.0/24 is reserved for documentation (RFC 5737): no machine has it
    const failed: unknown = await f.gateway.listen({ port: 0, host: '192.0.2.1' }).catch((error: unknown) => error);
    expect(failed).toMatchObject({
      code: HttpErrorCodes.listenFailed,
      message: expect.stringMatching(/^http: cannot listen on 192\.0\.2\.1:0: .*EADDRNOTAVAIL.*check that the host/),
      details: { host: '192.0.2.1', port: 0, systemCode: 'EADDRNOTAVAIL' },
    });
  });

  it('refuses a port that is no port number with invalid-options, before trying to listen', async () => {
    f = fixture();
    for (const port of [65_536, -1, 80.5, Number.NaN]) {
      await expect(f.gateway.listen({ port, host: '127.0.0.1' })).rejects.toThrowError(
        expect.objectContaining({ code: 'invalid-options', message: `http: listen: port must be an integer from 0 to 65535 (0: the system picks a free one), got ${String(port)}` }),
      );
    }
  });

  it('passes an error that is not the system refusing (a plugin failing at start) through unchanged', async () => {
    f = fixture();
    const broken = new Error('a plugin failed to start');
    f.gateway.fastify.addHook('onReady', async () => {
      throw broken;
    });
    await expect(f.gateway.listen({ port: 0, host: '127.0.0.1' })).rejects.toBe(broken);
  });
});
