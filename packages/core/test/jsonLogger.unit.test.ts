import { describe, expect, it } from 'vitest';
import { defineErrorCodes, HeraldError, jsonLogger } from '@herald/core';

const { specs: TestErrors } = defineErrorCodes({
  declined: { code: 'card-declined', retriable: false, meaning: 'the test card is declined', action: 'none' },
});

// a JWT as an API gateway or an identity provider issues them (header.payload.signature)
const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjLTEiLCJyb2xlcyI6WyJhZG1pbiJdfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

/** A jsonLogger at debug level keeping its lines, parsed. */
function capture(fields?: Record<string, unknown>) {
  const lines: string[] = [];
  const logger = jsonLogger({ level: 'debug', fields, write: (line) => lines.push(line) });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** What an HTTP client throws for a 503 (axios' AxiosError): the request's config, headers included, as own properties. */
function httpClientError(): Error {
  return Object.assign(new Error('Request failed with status code 503'), {
    name: 'AxiosError',
    code: 'ERR_BAD_RESPONSE',
    config: { method: 'post', url: 'https://payments.example.org/charges', headers: { Accept: 'application/json', Authorization: `Bearer ${JWT}` } },
    status: 503,
  });
}

describe('jsonLogger writes errors whole', () => {
  it("keeps a cause chain: a Herald error's code, retriable and details, the driver error under it, an AggregateError's errors", () => {
    const { logger, entries } = capture();
    const driver = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    const wrapped = new HeraldError(TestErrors.declined, 'the card was declined', { cause: driver, details: { last4: '4242' } });
    const both = new AggregateError([new Error('replica 1 down'), new Error('replica 2 down')], 'no replica answered');
    logger.error('payment failed', { orderId: 'o-1', error: new Error('checkout failed', { cause: wrapped }), replicas: both });
    expect(entries()).toEqual([
      {
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        level: 'error',
        msg: 'payment failed',
        orderId: 'o-1',
        error: {
          name: 'Error',
          message: 'checkout failed',
          stack: expect.stringContaining('checkout failed'),
          cause: {
            name: 'HeraldError',
            message: 'the card was declined',
            code: 'card-declined',
            retriable: false,
            details: { last4: '4242' },
            stack: expect.stringContaining('the card was declined'),
            cause: { name: 'Error', message: 'connection reset', code: 'ECONNRESET', stack: expect.stringContaining('connection reset') },
          },
        },
        replicas: {
          name: 'AggregateError',
          message: 'no replica answered',
          stack: expect.any(String),
          errors: [expect.objectContaining({ message: 'replica 1 down' }), expect.objectContaining({ message: 'replica 2 down' })],
        },
      },
    ]);
  });

  it('writes an error that is its own cause once, the repeat as [circular], and errors inside plain objects and a child’s fields', () => {
    const { logger, entries } = capture();
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    logger.child({ first: new Error('bound') }).warn('looping', { error: b, nested: { inner: [new Error('in an array')] } });
    expect(entries()[0]).toMatchObject({
      first: { name: 'Error', message: 'bound' },
      error: { message: 'b', cause: { message: 'a', cause: '[circular]' } },
      nested: { inner: [{ name: 'Error', message: 'in an array' }] },
    });
  });

  it('never throws on what JSON cannot write: a cycle deeper than the walk, a BigInt, a toJSON that throws', () => {
    const { logger, entries } = capture();
    const top: Record<string, unknown> = {};
    let deep = top;
    for (let i = 0; i < 12; i++) deep = (deep['d'] = {}) as Record<string, unknown>;
    deep['loop'] = top;
    logger.info('odd data', { big: 2n ** 64n, top, n: 1 });
    const [entry] = entries();
    expect(entry).toMatchObject({ msg: 'odd data', big: '18446744073709551616', n: 1 });
    // below the walk's 8 levels nothing is written (it could not be redacted): the cycle there neither
    expect(JSON.stringify(entry?.['top'])).toBe(`${'{"d":'.repeat(8)}"[too deep]"${'}'.repeat(8)}`);
    const refusing = { toJSON: () => { throw new Error('not today'); } };
    logger.warn('refused', { refusing });
    expect(entries()[1]).toEqual({ time: expect.any(String), level: 'warn', msg: 'refused', logError: 'fields not written: not today' });
  });
});

describe('jsonLogger never throws into its caller', () => {
  // a logger throwing on the dead-letter path would fail the delivery outside its policies, again and again
  it('writes a field it cannot read as [unreadable: why], and the rest of the line', () => {
    const { logger, entries } = capture();
    const body = Object.defineProperty({ size: 3 }, 'text', {
      enumerable: true,
      get() {
        throw new Error('body already consumed');
      },
    });
    const failed = Object.defineProperty(new Error('upstream failed'), 'detail', {
      enumerable: true,
      get() {
        throw new TypeError('detail not loaded');
      },
    });
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => logger.error('odd fields', { body, error: failed, proxy, n: 1 })).not.toThrow();
    expect(entries()[0]).toMatchObject({
      msg: 'odd fields',
      body: { size: 3, text: '[unreadable: body already consumed]' },
      error: { name: 'Error', message: 'upstream failed', detail: '[unreadable: detail not loaded]', stack: expect.stringContaining('upstream failed') },
      proxy: expect.stringMatching(/^\[unreadable: .*revoked/),
      n: 1,
    });
  });

  it('writes a field whose getter throws null, fields that cannot be listed and a child of such fields', () => {
    const { logger, entries } = capture();
    const throwsNull = Object.defineProperty({}, 'a', {
      enumerable: true,
      get() {
        throw null;
      },
    });
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => logger.info('null thrown', throwsNull)).not.toThrow();
    expect(() => logger.info('revoked fields', proxy as Record<string, unknown>)).not.toThrow();
    expect(() => logger.child(proxy as Record<string, unknown>).info('from a child')).not.toThrow();
    expect(entries()).toEqual([
      expect.objectContaining({ msg: 'null thrown', a: '[unreadable: null]' }),
      expect.objectContaining({ msg: 'revoked fields', fields: expect.stringMatching(/^\[unreadable: .*revoked/) }),
      expect.objectContaining({ msg: 'from a child', fields: expect.stringMatching(/^\[unreadable: .*revoked/) }),
    ]);
  });

  it('writes data below the walk as [too deep], so a credential there is not written', () => {
    const { logger, lines } = capture();
    let request: Record<string, unknown> = { headers: { authorization: `Bearer ${JWT}` } };
    for (let i = 0; i < 8; i++) request = { [`level${i}`]: request };
    logger.error('deep', { request });
    expect(lines[0]).not.toContain(JWT.slice(0, 20));
    expect(lines[0]).toContain('"[too deep]"');
  });
});

describe('jsonLogger keeps credentials out of the lines, as @herald/logging does', () => {
  it("writes an HTTP client's error whole but for the request's Authorization header", () => {
    const { logger, lines, entries } = capture();
    logger.error('event dead-lettered', { error: new Error('charge failed', { cause: httpClientError() }), attempts: 5 });
    expect(lines[0]).not.toContain(JWT.slice(0, 40));
    expect(entries()[0]).toMatchObject({
      attempts: 5,
      error: {
        message: 'charge failed',
        cause: { name: 'AxiosError', code: 'ERR_BAD_RESPONSE', status: 503, config: { url: 'https://payments.example.org/charges', headers: { Accept: 'application/json', Authorization: '[redacted]' } } },
      },
    });
  });

  it("writes a JWT in a message, a connection string's password and fields named like credentials as [redacted]; the rest as it is", () => {
    const { logger, lines, entries } = capture({ service: 'api', apiKey: 'k-123' });
    logger.warn(`rejected token ${JWT}`, { correlationId: 'c-1', tokensUsed: 3, hint: 'a bearer token is required' });
    logger.child({ db: { user: 'herald', password: 'pw-1' } }).error('cannot connect to postgres://herald:s3cr3t-pw@postgres:5432/herald');
    expect(lines.join('\n')).not.toMatch(/eyJhbGci|k-123|pw-1|s3cr3t-pw/);
    expect(entries()).toEqual([
      { time: expect.any(String), level: 'warn', msg: 'rejected token [redacted]', service: 'api', apiKey: '[redacted]', correlationId: 'c-1', tokensUsed: 3, hint: 'a bearer token is required' },
      {
        time: expect.any(String),
        level: 'error',
        msg: 'cannot connect to postgres://herald:[redacted]@postgres:5432/herald',
        service: 'api',
        apiKey: '[redacted]',
        db: { user: 'herald', password: '[redacted]' },
      },
    ]);
  });
});

describe('jsonLogger writes its own keys once', () => {
  it('writes a field named time, level or msg as fields.<key>, so an error line stays an error line with its message', () => {
    const { logger, entries } = capture({ msg: 'from the logger' });
    logger.child({ time: 'bound' }).error('disk full', { level: 'debug', msg: 'spoof', n: 1 });
    expect(entries()).toEqual([
      { time: expect.stringMatching(/^\d{4}-/), level: 'error', msg: 'disk full', 'fields.msg': 'spoof', 'fields.time': 'bound', 'fields.level': 'debug', n: 1 },
    ]);
  });
});
