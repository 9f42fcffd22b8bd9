import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { defineEvent, type Broker, type EventDefinition, type OutgoingRecord, type Publish } from '@herald/core';
import { Type } from '@sinclair/typebox';
import { createTracing, startTracing, type Tracing, type TracingSdk } from '../src/index.js';

interface Received {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** A stand-in OTLP/HTTP collector on loopback: keeps what it is sent, answers 200. */
function collector(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received })));
}

const VARIABLES = ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SERVICE_NAME', 'OTEL_SDK_DISABLED'];

const INCOMING = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/**
 * The headers each event got, published three ways through `tracing`: at the root (no trace),
 * and by a route serving a request with a sampled `traceparent`, one event and a `many` call.
 */
async function publishedHeaders(tracing: Tracing): Promise<(Readonly<Record<string, string>> | undefined)[]> {
  const seen: (Readonly<Record<string, string>> | undefined)[] = [];
  const publish = (async (_definition: EventDefinition, _data: unknown, options?: { headers?: Readonly<Record<string, string>> }) => {
    seen.push(options?.headers);
    return { id: 'e', correlationId: 'c', key: 'k' };
  }) as unknown as Publish;
  publish.many = (async (_definition: EventDefinition, _items: unknown, options?: { headers?: Readonly<Record<string, string>> }) => {
    seen.push(options?.headers);
    return [];
  }) as Publish['many'];
  const Noted = defineEvent({ type: 'Noted', topic: 'notes', key: () => 'k', schema: Type.Object({}) });
  await tracing.publish(publish)(Noted, {});
  const request = tracing.http.start({ method: 'POST', url: '/notes', route: '/notes', headers: { traceparent: INCOMING }, scheme: 'http', remoteAddress: undefined, serverAddress: undefined, serverPort: undefined, httpVersion: '1.1' });
  await request.publish(publish)(Noted, {});
  await request.publish(publish).many(Noted, [{}]);
  request.end({ statusCode: 201 });
  return seen;
}

describe('startTracing: the exporter from the OTEL_* variables', () => {
  let otlp: Awaited<ReturnType<typeof collector>>;
  let sdk: TracingSdk | undefined;
  const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  beforeAll(async () => {
    otlp = await collector();
  });
  afterEach(async () => {
    await sdk?.shutdown();
    sdk = undefined;
    otlp.received.length = 0;
    for (const name of VARIABLES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  afterAll(() => new Promise<void>((resolve) => otlp.server.close(() => resolve())));

  const emit = (sdk: TracingSdk, name: string) => sdk.provider.getTracer('test').startSpan(name).end();

  it('exports OTLP over HTTP/protobuf by default, under the service name given', async () => {
    process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = `${otlp.url}/v1/traces`;
    sdk = startTracing({ serviceName: 'orders-api', register: false });
    expect(sdk.exporters).toEqual(['otlp http/protobuf']);
    emit(sdk, 'span-over-protobuf');
    await sdk.forceFlush();
    expect(otlp.received.map((r) => [r.path, r.contentType])).toEqual([['/v1/traces', 'application/x-protobuf']]);
    const body = otlp.received[0]!.body;
    expect(body.includes('span-over-protobuf')).toBe(true);
    expect(body.includes('orders-api')).toBe(true);
  });

  it('exports OTLP as JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json, OTEL_SERVICE_NAME winning', async () => {
    process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = `${otlp.url}/v1/traces`;
    process.env['OTEL_EXPORTER_OTLP_PROTOCOL'] = 'http/json';
    process.env['OTEL_SERVICE_NAME'] = 'from-the-environment';
    sdk = startTracing({ serviceName: 'orders-api', register: false });
    expect(sdk.exporters).toEqual(['otlp http/json']);
    emit(sdk, 'span-over-json');
    await sdk.forceFlush();
    const request = JSON.parse(otlp.received[0]!.body.toString('utf8')) as {
      resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string }[] }[] }[];
    };
    const [resourceSpans] = request.resourceSpans;
    expect(resourceSpans!.scopeSpans[0]!.spans.map((s) => s.name)).toEqual(['span-over-json']);
    expect(resourceSpans!.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue).toBe('from-the-environment');
  });

  it('writes to the console with OTEL_TRACES_EXPORTER=console, and exports nothing with none', async () => {
    process.env['OTEL_TRACES_EXPORTER'] = 'console';
    const printed = vi.spyOn(console, 'dir').mockImplementation(() => {});
    sdk = startTracing({ register: false, processor: 'simple' });
    expect(sdk.exporters).toEqual(['console']);
    emit(sdk, 'span-on-the-console');
    expect(printed.mock.calls.map((call) => (call[0] as { name: string }).name)).toEqual(['span-on-the-console']);
    printed.mockRestore();
    await sdk.shutdown();

    process.env['OTEL_TRACES_EXPORTER'] = 'none';
    process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = `${otlp.url}/v1/traces`;
    sdk = startTracing({ register: false });
    expect(sdk.exporters).toEqual([]);
    emit(sdk, 'span-to-nowhere');
    await sdk.forceFlush();
    expect(otlp.received).toEqual([]);
  });

  it('refuses exporters and protocols it does not ship, naming them', () => {
    process.env['OTEL_TRACES_EXPORTER'] = 'zipkin';
    expect(() => startTracing({ register: false })).toThrow(expect.objectContaining({ code: 'tracing-exporter-unsupported', message: expect.stringContaining('"zipkin"') }));
    process.env['OTEL_TRACES_EXPORTER'] = 'otlp';
    process.env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] = 'grpc';
    expect(() => startTracing({ register: false })).toThrow(expect.objectContaining({ code: 'tracing-exporter-unsupported', message: expect.stringContaining('"grpc"') }));
  });

  it('records nothing with OTEL_SDK_DISABLED=true, and passes the trace contexts that come in on unchanged', async () => {
    process.env['OTEL_SDK_DISABLED'] = 'true';
    const exporter = new InMemorySpanExporter();
    sdk = startTracing({ exporter, processor: 'simple' });
    expect(sdk.exporters).toEqual([]);
    const span = sdk.provider.getTracer('test').startSpan('ignored');
    expect(span.isRecording()).toBe(false);
    span.end();
    // nothing registered: the global API is still OpenTelemetry's no-op one
    expect(trace.getTracer('global').startSpan('global').spanContext().traceId).toBe('0'.repeat(32));
    const seen = await publishedHeaders(createTracing({ tracerProvider: sdk.provider }));
    // a caller's sampled trace goes on sampled (a disabled service must not switch tracing off
    // downstream), and no made-up context starts where none came in
    expect(seen).toEqual([{}, { traceparent: INCOMING }, { traceparent: INCOMING }]);
    await sdk.shutdown();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('carries no all-zero context when no SDK runs at all', async () => {
    const seen = await publishedHeaders(createTracing());
    expect(seen).toEqual([{}, { traceparent: INCOMING }, { traceparent: INCOMING }]);
    const sent: (Readonly<Record<string, string>> | undefined)[] = [];
    const broker = createTracing().broker({
      publish: async (records: readonly OutgoingRecord[]) => void sent.push(...records.map((r) => r.headers)),
      subscribe: () => {
        throw new Error('not used');
      },
      close: async () => {},
    } as unknown as Broker);
    await broker.publish([{ topic: 't', key: 'k', value: '{}' }, { topic: 't', key: 'k', value: '{}', headers: { traceparent: INCOMING } }]);
    expect(sent).toEqual([{}, { traceparent: INCOMING }]);
  });

  it('registers globally, and unregisters at shutdown so another SDK can take over', async () => {
    const first = new InMemorySpanExporter();
    sdk = startTracing({ exporter: first, processor: 'simple' });
    trace.getTracer('global').startSpan('through-the-global-api').end();
    expect(first.getFinishedSpans().map((s) => s.name)).toEqual(['through-the-global-api']);
    await sdk.shutdown();
    await sdk.shutdown();
    const second = new InMemorySpanExporter();
    sdk = startTracing({ exporter: second, processor: 'simple' });
    trace.getTracer('global').startSpan('after-the-restart').end();
    expect(second.getFinishedSpans().map((s) => s.name)).toEqual(['after-the-restart']);
  });
});
