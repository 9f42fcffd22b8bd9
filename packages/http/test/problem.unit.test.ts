import { ErrorCodes, HeraldError, ValidationError } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { HttpErrorCodes, PROBLEM_CATALOG, canonicalJson, parseIdempotencyKey, requestFingerprint, toProblem } from '../src/index.js';

describe('toProblem', () => {
  it("maps each catalog code to its status and fixed title; a 4xx says the error's message, a 5xx its code's generic detail", () => {
    for (const [code, entry] of Object.entries(PROBLEM_CATALOG)) {
      const problem = toProblem(new HeraldError(code, `about ${code} at 10.0.3.17:9092`), '/x');
      expect(problem).toEqual({ type: `urn:herald:problem:${code}`, title: entry.title, status: entry.status, detail: expect.any(String), instance: '/x', code });
      if (entry.status < 500) expect(problem.detail, code).toBe(`about ${code} at 10.0.3.17:9092`);
      else expect(problem.detail, code).not.toContain('10.0.3.17');
    }
    expect(toProblem(new HeraldError(ErrorCodes.brokerUnavailable, 'kafka: connect ECONNREFUSED 10.0.3.17:9092'), '/x').detail).toBe('the event log is unavailable; retry later');
    expect(toProblem(new HeraldError(ErrorCodes.timeout, 'kafka: publishing took over 5000 ms'), '/x').detail).toBe('the service did not finish in time; retry later');
    expect(toProblem(new HeraldError(ErrorCodes.closed, 'pgStores: the stores are closed'), '/x').detail).toBe('the service is shutting down; retry later');
    expect(toProblem(new HeraldError(HttpErrorCodes.keysUnavailable, 'the JWKS could not be fetched: fetch failed'), '/x').detail).toBe('the keys that verify tokens cannot be fetched now; retry later');
  });

  it("answers 422 for a value the store refused as data (the core's value-rejected)", () => {
    expect(toProblem(new HeraldError(ErrorCodes.valueRejected, 'pgStores: execute: invalid byte sequence for encoding "UTF8": 0x00'), '/orders')).toMatchObject({
      status: 422,
      code: 'value-rejected',
      detail: expect.stringContaining('0x00'),
    });
  });

  it('puts validation issues in `errors` with a 422', () => {
    const problem = toProblem(new ValidationError('OrderPlaced', [{ path: '/a', message: 'Expected string' }]), '/orders');
    expect(problem.status).toBe(422);
    expect(problem.errors).toEqual([{ path: '/a', message: 'Expected string' }]);
  });

  it('maps domain codes through errorKinds but keeps their own code and type', () => {
    const problem = toProblem(new HeraldError('seat-held', 'seat 1A is taken'), '/orders', { errorKinds: { 'seat-held': 'conflict' }, typeBase: 'https://example.test/problems/' });
    expect(problem).toMatchObject({ status: 409, title: 'Conflict', code: 'seat-held', type: 'https://example.test/problems/seat-held', detail: 'seat 1A is taken' });
  });

  it("maps @herald/reply's codes keeping their own: an invalid reply 502, no reply in time 504, a requester not started or closed 503", () => {
    const reply = (code: string, retriable: boolean) => toProblem(new HeraldError(code, `${code} happened`, { retriable }), '/profile');
    expect(reply('reply-invalid', false)).toEqual({
      type: 'urn:herald:problem:reply-invalid',
      title: 'Bad gateway',
      status: 502,
      detail: 'a service this one depends on gave an unusable answer',
      instance: '/profile',
      code: 'reply-invalid',
    });
    expect(reply('request-timeout', true)).toMatchObject({ status: 504, title: 'Gateway timeout', code: 'request-timeout', detail: 'a service this one depends on did not answer in time; retry later' });
    expect(reply('requester-not-started', false)).toMatchObject({ status: 503, code: 'requester-not-started', detail: 'the service cannot take the request now; retry later' });
    expect(reply('requester-closed', true)).toMatchObject({ status: 503, code: 'requester-closed' });
    // a gateway's own errorKinds come first
    expect(toProblem(new HeraldError('request-timeout', 'slow'), '/', { errorKinds: { 'request-timeout': 'unavailable' } })).toMatchObject({ status: 503, code: 'request-timeout' });
  });

  it("lists validation issues on a 422 only: another status's issues (a reply's, an event's) are not the client's fields", () => {
    const issues = [{ path: '/email', message: 'Expected string' }];
    expect(toProblem(new HeraldError('reply-invalid', 'the reply is not a valid Profile', { details: { issues } }), '/profile')).not.toHaveProperty('errors');
    expect(toProblem(new HeraldError('ledger-corrupt', 'bad row', { details: { issues } }), '/')).not.toHaveProperty('errors');
    expect(toProblem(new HeraldError(ErrorCodes.schemaViolation, 'bad body', { details: { issues } }), '/')).toMatchObject({ status: 422, errors: issues });
  });

  it("maps fastify's errors by code, then by status; another library's statusCode or code is no status of this request", () => {
    expect(toProblem(Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }), '/').status).toBe(413);
    expect(toProblem(Object.assign(new Error('bad'), { code: 'FST_ERR_SOMETHING_NEW', statusCode: 400 }), '/')).toMatchObject({ status: 400, code: 'bad-request' });
    const s3 = Object.assign(new Error('The specified key does not exist: s3://acme-internal-billing/inv-77.pdf'), { code: 'NoSuchKey', statusCode: 404 });
    expect(toProblem(s3, '/')).toMatchObject({ status: 500, code: 'internal', detail: 'Internal server error' });
    expect(toProblem(Object.assign(new Error('upstream: bad query'), { statusCode: 400, status: 400 }), '/')).toMatchObject({ status: 500, code: 'internal' });
    expect(toProblem(Object.assign(new Error('row 7 of /srv/ledger'), { code: 'conflict' }), '/')).toMatchObject({ status: 500, code: 'internal' });
  });

  it('hides the message of unknown errors: 503 when retriable, else 500', () => {
    expect(toProblem(new HeraldError('db-busy', 'SQLITE_BUSY at /var/db', { retriable: true }), '/')).toMatchObject({
      status: 503,
      code: 'unavailable',
      detail: 'the service cannot take the request now; retry later',
    });
    expect(toProblem(new TypeError('x is undefined at secret.ts:3'), '/')).toMatchObject({ status: 500, code: 'internal', detail: 'Internal server error' });
    expect(toProblem('a string', '/')).toMatchObject({ status: 500, code: HttpErrorCodes.internal });
  });

  it('hides the message of an error raised with the internal code, or a domain code mapped to it', () => {
    expect(toProblem(new HeraldError(HttpErrorCodes.internal, 'RS256 requires key modulusLength to be 2048 bits'), '/')).toMatchObject({ status: 500, code: 'internal', detail: 'Internal server error' });
    expect(toProblem(new HeraldError('ledger-corrupt', 'row 7 of /var/ledger'), '/', { errorKinds: { 'ledger-corrupt': 'internal' } })).toMatchObject({
      status: 500,
      code: 'ledger-corrupt',
      detail: 'Internal server error',
    });
  });
});

describe('parseIdempotencyKey', () => {
  it('reads bare and structured-field keys', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('"abc"')).toBe('abc');
    expect(parseIdempotencyKey('"a\\"b\\\\c"')).toBe('a"b\\c');
    expect(parseIdempotencyKey('a b')).toBe('a b');
    expect(parseIdempotencyKey('x'.repeat(255))).toHaveLength(255);
  });

  it.each([[''], ['x'.repeat(256)], ['tab\there'], ['é'], ['"a"b"'], ['"a\\x"'], ['""']])('refuses %j', (value) => {
    expect(() => parseIdempotencyKey(value)).toThrow(expect.objectContaining({ code: 'idempotency-key-invalid' }));
  });

  it('refuses a repeated header', () => {
    expect(() => parseIdempotencyKey(['a', 'b'])).toThrow(expect.objectContaining({ code: 'idempotency-key-invalid' }));
  });
});

describe('requestFingerprint', () => {
  it('ignores key order but not values, method or path', () => {
    const base = { method: 'POST', path: '/orders', body: { a: 1, b: { c: [1, 2], d: null } } };
    const same = requestFingerprint({ ...base, body: { b: { d: null, c: [1, 2] }, a: 1 } });
    expect(requestFingerprint(base)).toBe(same);
    expect(requestFingerprint({ ...base, body: { a: 2, b: { c: [1, 2], d: null } } })).not.toBe(same);
    expect(requestFingerprint({ ...base, body: { a: 1, b: { c: [2, 1], d: null } } })).not.toBe(same);
    expect(requestFingerprint({ ...base, method: 'PUT' })).not.toBe(same);
    expect(requestFingerprint({ ...base, path: '/orders?x=1' })).not.toBe(same);
    expect(canonicalJson({ z: 1, a: [{ y: 1, b: 2 }] })).toBe('{"a":[{"b":2,"y":1}],"z":1}');
  });

  it('writes exactly what JSON.stringify writes with sorted keys, so stored fingerprints still match', () => {
    const values = [
      { z: 'é "quoted" \\ \n', a: [1.5, -0, 1e21, true, false, null, [], {}], m: { y: [{ b: '', a: [[]] }], x: undefined } },
      [undefined, 'x', { k: undefined }],
      'text',
      42,
      null,
      { '': 1, 'ünï': { '10': 1, '9': 2, b: 3 } },
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(JSON.stringify(value, sortedKeys));
    expect(canonicalJson(undefined)).toBe('');
  });

  it('fingerprints a body nested far deeper than the call stack allows recursion', () => {
    const depth = 100_000;
    const arrays = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    expect(canonicalJson(JSON.parse(arrays))).toBe(arrays);
    let objects: unknown = { z: 1, a: 'leaf' };
    for (let i = 0; i < depth; i++) objects = { z: i, a: objects };
    const json = canonicalJson(objects);
    expect(json.startsWith(`{"a":{"a":`)).toBe(true);
    expect(json).toContain(`{"a":{"a":"leaf","z":1},"z":0},"z":1}`);
    expect(json.endsWith(`"z":${depth - 1}}`)).toBe(true);
    expect(requestFingerprint({ method: 'POST', path: '/x', body: JSON.parse(arrays) })).toMatch(/^[0-9a-f]{64}$/);
  });
});

/** A JSON.stringify replacer that writes every object's keys sorted (the reference for canonicalJson). */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, (value as Record<string, unknown>)[k]]));
}
