import { describe, expect, it } from 'vitest';
import { pinoLogger } from '../src/index.js';

/** A destination that keeps what it is given, line by line. */
function capture() {
  const lines: string[] = [];
  return { lines, isTTY: false, write: (chunk: string) => void lines.push(...chunk.split('\n').filter((l) => l.length > 0)) };
}
const parsed = (sink: { lines: string[] }) => sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

// a JWT as an API gateway or an identity provider issues them (header.payload.signature)
const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjLTEiLCJyb2xlcyI6WyJhZG1pbiJdfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
const DATABASE_URL = 'postgres://herald:s3cr3t-pw@postgres:5432/herald';

/** Headers as HTTP clients keep them: a class whose toJSON gives the plain object (axios' AxiosHeaders). */
class ClientHeaders {
  constructor(private readonly values: Record<string, string>) {}
  toJSON() {
    return { ...this.values };
  }
}

/** What an HTTP client throws for a 503 (axios' AxiosError): the request's config, headers included, as own properties. */
function httpClientError(): Error {
  return Object.assign(new Error('Request failed with status code 503'), {
    name: 'AxiosError',
    code: 'ERR_BAD_RESPONSE',
    config: { method: 'post', url: 'https://payments.example.org/charges', headers: new ClientHeaders({ Accept: 'application/json', Authorization: `Bearer ${JWT}` }) },
    status: 503,
  });
}

describe('pinoLogger keeps credentials out of the lines', () => {
  it("writes a handler error from an HTTP client whole but for the request's Authorization header", () => {
    const sink = capture();
    // what the dead letter policy logs for a handler whose payment call failed for good
    pinoLogger({ destination: sink }).error('event dead-lettered', { error: new Error('charge failed', { cause: httpClientError() }), attempts: 5 });
    expect(sink.lines[0]).not.toContain(JWT.slice(0, 40));
    const [line] = parsed(sink);
    expect(line).toMatchObject({
      attempts: 5,
      error: {
        message: 'charge failed',
        cause: {
          name: 'AxiosError',
          code: 'ERR_BAD_RESPONSE',
          status: 503,
          config: { method: 'post', url: 'https://payments.example.org/charges', headers: { Accept: 'application/json', Authorization: '[redacted]' } },
        },
      },
    });
  });

  it('writes the password of a connection string, in a message, a field or an error, as [redacted]', () => {
    const sink = capture();
    const logger = pinoLogger({ destination: sink });
    logger.error(`cannot connect to ${DATABASE_URL}`, { url: DATABASE_URL, error: new Error(`connect ECONNREFUSED ${DATABASE_URL}`) });
    logger.warn('migrating', { dsn: 'host=postgres user=herald password=s3cr3t-pw dbname=herald' });
    expect(sink.lines.join('\n')).not.toContain('s3cr3t-pw');
    const [refused, migrating] = parsed(sink);
    expect(refused).toMatchObject({
      msg: 'cannot connect to postgres://herald:[redacted]@postgres:5432/herald',
      url: 'postgres://herald:[redacted]@postgres:5432/herald',
      error: { message: 'connect ECONNREFUSED postgres://herald:[redacted]@postgres:5432/herald', stack: expect.stringContaining('postgres://herald:[redacted]@postgres') },
    });
    expect(migrating).toMatchObject({ dsn: 'host=postgres user=herald password=[redacted] dbname=herald' });
  });

  it('writes bearer tokens and JWTs anywhere in a line, and fields named like credentials, as [redacted]; the rest as it is', () => {
    const sink = capture();
    const logger = pinoLogger({ destination: sink, fields: { service: 'api' } });
    logger.child({ apiKey: 'k-123', db: { user: 'herald', password: 'pw-1' } }).info('request completed', {
      url: `/orders?access_token=${JWT}&page=2`,
      headers: { authorization: `Bearer ${JWT}`, 'x-api-key': 'k-456', cookie: 'session=abc', 'x-correlation-id': 'c-1' },
      note: `retrying with Bearer ${JWT}`,
      correlationId: 'c-1',
      tokensUsed: 3,
      hint: 'a bearer token is required',
      at: new Date(0),
    });
    expect(sink.lines[0]).not.toMatch(/eyJhbGci|k-123|k-456|pw-1|session=abc/);
    expect(parsed(sink)[0]).toEqual({
      level: 'info',
      time: expect.any(String),
      service: 'api',
      apiKey: '[redacted]',
      db: { user: 'herald', password: '[redacted]' },
      url: '/orders?access_token=[redacted]&page=2',
      headers: { authorization: '[redacted]', 'x-api-key': '[redacted]', cookie: '[redacted]', 'x-correlation-id': 'c-1' },
      note: 'retrying with Bearer [redacted]',
      correlationId: 'c-1',
      tokensUsed: 3,
      hint: 'a bearer token is required',
      at: '1970-01-01T00:00:00.000Z',
      msg: 'request completed',
    });
  });
});

describe('pinoLogger never throws into its caller', () => {
  it('writes a field whose getter throws (null among what may be thrown) as [unreadable: why], with the rest of the line', () => {
    const sink = capture();
    const logger = pinoLogger({ destination: sink });
    const fields = Object.defineProperty({ orderId: 'o-1' }, 'body', {
      enumerable: true,
      get() {
        throw null;
      },
    });
    expect(() => logger.error('odd', fields)).not.toThrow();
    expect(parsed(sink)[0]).toMatchObject({ msg: 'odd', orderId: 'o-1', body: '[unreadable: null]' });
  });
});
