import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLogger } from '@herald/core';
import { startKafkaMock, type KafkaMock } from '@herald/testing/kafka-mock';
import { kafkaBroker, type KafkaBroker } from '../src/index.js';
import { unique } from './helpers.js';

// The mock cluster listens on IPv4 loopback only: a proxy on IPv6 loopback stands for a bootstrap
// server reached over IPv6. The cluster's metadata then names its brokers by their IPv4 addresses,
// so the proxy sees the bootstrap connection, as a real IPv6 bootstrap server would.

let mock: KafkaMock;
let proxy: net.Server;
let broker: KafkaBroker | undefined;
const proxied: string[] = [];

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1 });
  const [host, port] = mock.brokers[0]!.split(':');
  proxy = net.createServer((client) => {
    proxied.push(client.remoteAddress ?? '?');
    const upstream = net.connect({ host: host!, port: Number(port) });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '::1', resolve));
});

afterAll(async () => {
  await broker?.close();
  await new Promise((resolve) => proxy?.close(resolve));
  await mock?.stop();
});

describe('a bootstrap server given as an IPv6 address in brackets', () => {
  it('is dialled at that address: the client reaches the cluster through it and publishes', async () => {
    const { port } = proxy.address() as net.AddressInfo;
    broker = kafkaBroker({ brokers: [`[::1]:${port}`], logger: jsonLogger({ level: 'silent' }) });
    const topic = unique('v6');
    await broker.publish([{ topic, key: 'k', value: 'over IPv6' }]);
    expect(proxied.length).toBeGreaterThan(0);
    expect(proxied.every((address) => address === '::1')).toBe(true);
    const [description] = await broker.describeTopics([topic]);
    expect(description?.partitions.reduce((n, p) => n + p.end - p.start, 0)).toBe(1);
  });

  it('is refused when the brackets hold no IPv6 address, or the address has no brackets', () => {
    for (const server of ['[kafka-0]:9092', '::1:9092', '[::1]', '[::1]:0']) {
      expect(() => kafkaBroker({ brokers: [server] }), server).toThrow(`kafkaBroker: broker '${server}' is not host:port (an IPv6 address in brackets: [::1]:9092)`);
    }
  });
});
