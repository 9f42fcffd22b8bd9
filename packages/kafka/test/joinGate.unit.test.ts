import net from 'node:net';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonLogger } from '@herald/core';
import { createJoinGates, readJoinGroup } from '../src/internal/joinGate.js';

// kafkajs's own request encoding, so the parser is checked against what kafkajs really writes
const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const joinGroup = require('kafkajs/src/protocol/requests/joinGroup/index.js') as { versions: string[]; protocol: (v: { version: number }) => (args: object) => { request: object } };
const createRequest = require('kafkajs/src/protocol/request.js') as (args: { correlationId: number; clientId: string; request: object }) => Promise<Encoded>;
const metadata = require('kafkajs/src/protocol/requests/metadata/index.js') as typeof joinGroup;

async function joinRequest(version: number, memberId: string): Promise<Buffer> {
  const { request } = joinGroup.protocol({ version })({ groupId: 'orders', sessionTimeout: 30_000, rebalanceTimeout: 60_000, memberId, protocolType: 'consumer', groupProtocols: [{ name: 'rr', metadata: Buffer.from('x') }] });
  return (await createRequest({ correlationId: 7, clientId: 'herald', request })).buffer;
}

async function metadataRequest(): Promise<Buffer> {
  const { request } = metadata.protocol({ version: 1 })({ topics: ['t'] });
  return (await createRequest({ correlationId: 8, clientId: 'herald', request })).buffer;
}

describe('readJoinGroup', () => {
  it('reads the group and member id of every JoinGroup version kafkajs sends, and nothing from other requests', async () => {
    expect(joinGroup.versions).toEqual(['0', '1', '2', '3', '4', '5']);
    for (const version of joinGroup.versions.map(Number)) expect(readJoinGroup(await joinRequest(version, 'member-1')), `v${version}`).toEqual({ group: 'orders', member: 'member-1' });
    expect(readJoinGroup(await metadataRequest())).toBeUndefined();
  });
});

describe('join gates (real sockets)', () => {
  let server: net.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A server that records the requests it receives, in order, by their correlation id. */
  async function recordingServer(): Promise<{ port: number; received: number[] }> {
    const received: number[] = [];
    server = net.createServer((socket) => {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
          received.push(buffered.readInt32BE(8));
          buffered = buffered.subarray(4 + buffered.readInt32BE(0));
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { port: (server!.address() as net.AddressInfo).port, received };
  }

  function connect(socketFactory: ReturnType<typeof createJoinGates>['socketFactory'], port: number): Promise<net.Socket> {
    return new Promise((resolve) => {
      const socket: net.Socket = socketFactory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: () => resolve(socket) });
    });
  }

  const waitUntil = async (condition: () => boolean) => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it('writes a registered member\'s JoinGroup only once it let go, letting the requests after it through first', async () => {
    const { port, received } = await recordingServer();
    const gates = createJoinGates({ holdMs: 60_000, logger: jsonLogger({ level: 'silent' }) });
    let letGo!: () => void;
    const released = new Promise<void>((resolve) => (letGo = resolve));
    gates.register('orders', 'member-1', () => released);
    const socket = await connect(gates.socketFactory, port);
    socket.write(await joinRequest(5, 'member-1'));
    socket.write(await metadataRequest());
    await waitUntil(() => received.length >= 1);
    expect(received, 'the metadata request went out, the JoinGroup waits').toEqual([8]);
    letGo();
    await waitUntil(() => received.length >= 2);
    expect(received).toEqual([8, 7]);
    socket.destroy();
  });

  it('sends the JoinGroup anyway once the hold expired, and never holds an unregistered or new member', async () => {
    const { port, received } = await recordingServer();
    const gates = createJoinGates({ holdMs: 50, logger: jsonLogger({ level: 'silent' }) });
    const unregister = gates.register('orders', 'member-1', () => new Promise<void>(() => {}));
    const socket = await connect(gates.socketFactory, port);
    socket.write(await joinRequest(5, 'member-1'));
    await waitUntil(() => received.length >= 1);
    unregister();
    socket.write(await joinRequest(5, 'member-1'));
    socket.write(await joinRequest(5, ''));
    await waitUntil(() => received.length >= 3);
    socket.destroy();
  });
});
