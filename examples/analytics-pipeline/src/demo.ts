import * as grpc from '@grpc/grpc-js';
import { loadServices } from './grpc/protos.js';

/**
 * A session against a running pipeline (`npm start` in another terminal), with no curl or grpcurl:
 * events over HTTP (single and batch) and gRPC (batch and client stream), a duplicate, an invalid
 * event, an unknown type, metric samples, events "now" that move stream time on, a late event;
 * then every query, printed. Addresses: PRODUCER_URL, ANALYTICS_URL, PRODUCER_GRPC, ANALYTICS_GRPC
 * (seed 001's ports on 127.0.0.1 by default).
 */
const producerUrl = process.env['PRODUCER_URL'] ?? 'http://127.0.0.1:8081';
const analyticsUrl = process.env['ANALYTICS_URL'] ?? 'http://127.0.0.1:8083';
const { Producer, Analytics } = loadServices();
const producer = new Producer(process.env['PRODUCER_GRPC'] ?? '127.0.0.1:50051', grpc.credentials.createInsecure());
const analytics = new Analytics(process.env['ANALYTICS_GRPC'] ?? '127.0.0.1:50053', grpc.credentials.createInsecure());

const minute = 60_000;
const start = Math.floor(Date.now() / minute) * minute - 5 * minute;
const at = (offsetMs: number) => new Date(start + offsetMs).toISOString();
const users = ['alice', 'bob', 'carol', 'dave'];
const event = (n: number, type = ['page_view', 'click', 'purchase'][n % 3]!) => ({
  eventId: `demo-${start}-${n}`,
  userId: users[n % users.length]!,
  type,
  timestamp: at(n * 7_000),
  properties: type === 'purchase' ? { amount: 10 + n, currency: 'EUR' } : type === 'click' ? { element: 'buy' } : { page: '/home' },
});

async function http(method: string, url: string, body?: unknown): Promise<void> {
  const response = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  console.log(`${method} ${url.replace(/^https?:\/\/[^/]+/, '')} -> ${response.status} ${await response.text()}`);
}

function rpc(client: grpc.Client, method: string, request: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: unknown, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void>)[method]!.call(client, request, (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
  });
}

const message = (e: ReturnType<typeof event>) => ({ ...e, properties: undefined, propertiesJson: JSON.stringify(e.properties) });

await http('POST', `${producerUrl}/v1/events`, event(0));
await http('POST', `${producerUrl}/v1/events`, event(0)); // the same eventId again: counted once
await http('POST', `${producerUrl}/v1/events:batch`, { events: Array.from({ length: 10 }, (_, i) => event(i + 1)) });
console.log('gRPC IngestBatch ->', JSON.stringify(await rpc(producer, 'IngestBatch', { events: Array.from({ length: 10 }, (_, i) => message(event(i + 11))) })));
const streamed = await new Promise((resolve, reject) => {
  const call = (producer as unknown as { IngestStream: (cb: (e: grpc.ServiceError | null, v: unknown) => void) => grpc.ClientWritableStream<unknown> }).IngestStream((error, reply) => (error ? reject(error) : resolve(reply)));
  for (let i = 21; i < 31; i++) call.write(message(event(i)));
  call.end();
});
console.log('gRPC IngestStream ->', JSON.stringify(streamed));
await http('POST', `${producerUrl}/v1/events`, { ...event(31), timestamp: 'yesterday' }); // refused: 422
await http('POST', `${producerUrl}/v1/events`, { ...event(32), type: 'teleport' }); // accepted, then dead-lettered by the consumer
for (let i = 0; i < 6; i++) await http('POST', `${producerUrl}/v1/metrics`, { name: 'checkout_ms', value: 100 + i * 20, timestamp: at(i * 10_000), labels: { region: 'eu' } });
// events now, for every user: every partition's stream time moves past the minutes above
for (const [i, userId] of users.entries()) await http('POST', `${producerUrl}/v1/events`, { eventId: `demo-${start}-now-${i}`, userId, type: 'page_view', timestamp: new Date().toISOString(), properties: { page: '/' } });
await http('POST', `${producerUrl}/v1/events`, { ...event(33, 'click'), timestamp: at(5_000) }); // its minute has closed: late
await new Promise((resolve) => setTimeout(resolve, 2_000));

const range = `from=${at(-minute)}&to=${new Date(start + 10 * minute).toISOString()}`;
await http('GET', `${analyticsUrl}/v1/analytics/counts?${range}&window=1m`);
await http('GET', `${analyticsUrl}/v1/analytics/counts?${range}&window=5m&type=purchase`);
await http('GET', `${analyticsUrl}/v1/analytics/users/alice`);
await http('GET', `${analyticsUrl}/v1/analytics/top-types?${range}&limit=3`);
await http('GET', `${analyticsUrl}/v1/metrics/checkout_ms/summary?${range}&window=1h`);
await http('GET', `${analyticsUrl}/v1/analytics/late?${range}`);
console.log('gRPC User ->', JSON.stringify(await rpc(analytics, 'User', { userId: 'bob' })));
await rpc(analytics, 'User', { userId: 'nobody' }).catch((error: grpc.ServiceError) => console.log(`gRPC User nobody -> ${grpc.status[error.code]}: ${error.details}`));
producer.close();
analytics.close();
