import { describe, expect, it } from 'vitest';
import { jsonReadyFields, redactText, serializeError } from '@herald/core';

// a JWT as an API gateway or an identity provider issues them (header.payload.signature)
const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjLTEiLCJyb2xlcyI6WyJhZG1pbiJdfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

/** Headers as HTTP clients keep them: a class whose toJSON gives the plain object (axios' AxiosHeaders). */
class ClientHeaders {
  constructor(private readonly values: Record<string, string>) {}
  toJSON() {
    return { ...this.values };
  }
}

describe('serializeError', () => {
  it('serializes aggregated errors, marks an error that is its own cause, and cuts endless chains', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(serializeError(b)).toMatchObject({ message: 'b', cause: { message: 'a', cause: '[circular]' } });
    const both = new AggregateError([new Error('one'), new Error('two')], 'both failed');
    expect(serializeError(both)).toMatchObject({ name: 'AggregateError', errors: [{ message: 'one' }, { message: 'two' }] });
    let deep = new Error('0');
    for (let i = 1; i < 20; i++) deep = new Error(String(i), { cause: deep });
    let level = serializeError(deep);
    let depth = 0;
    while (typeof level['cause'] === 'object') {
      level = level['cause'] as Record<string, unknown>;
      depth++;
    }
    expect([depth, level['cause']]).toEqual([7, '[cause chain cut]']);
    const shared = new Error('shared');
    expect(serializeError(new AggregateError([shared, shared]))['errors']).toEqual([expect.objectContaining({ message: 'shared' }), expect.objectContaining({ message: 'shared' })]);
  });

  it("redacts credentials in an error's properties, as an HTTP client's error carries its request's headers", () => {
    const error = Object.assign(new Error('Request failed with status code 503'), {
      name: 'AxiosError',
      config: { url: 'https://payments.example.org/charges', headers: new ClientHeaders({ Accept: 'application/json', Authorization: `Bearer ${JWT}` }) },
    });
    const serialized = serializeError(error);
    expect(JSON.stringify(serialized)).not.toContain(JWT.slice(0, 40));
    expect(serialized).toMatchObject({ config: { headers: { Accept: 'application/json', Authorization: '[redacted]' } } });
  });
});

describe('jsonReadyFields', () => {
  it('gives back the very fields of the common line, and copies only the containers where something changes', () => {
    const common = { orderId: 'o-1', attempts: 2, ok: true, durationMs: 12.5, note: 'a bearer token is required', missing: undefined };
    expect(jsonReadyFields(common)).toBe(common);
    const untouched = { user: 'herald', tags: ['a', 'b'] };
    const fields = { untouched, headers: { authorization: `Bearer ${JWT}` } };
    const ready = jsonReadyFields(fields);
    expect(ready).toEqual({ untouched, headers: { authorization: '[redacted]' } });
    expect(ready['untouched']).toBe(untouched);
    expect(fields.headers.authorization).toBe(`Bearer ${JWT}`);
  });
});

describe('redactText', () => {
  it('writes URL passwords, bearer credentials, JWTs and password= pairs as [redacted], and gives back text that holds none', () => {
    expect(redactText('connect ECONNREFUSED postgres://herald:s3cr3t-pw@postgres:5432/herald')).toBe('connect ECONNREFUSED postgres://herald:[redacted]@postgres:5432/herald');
    expect(redactText(`Authorization: Bearer ${JWT}`)).toBe('Authorization: Bearer [redacted]');
    expect(redactText(`token ${JWT} expired`)).toBe('token [redacted] expired');
    expect(redactText('host=postgres user=herald password=s3cr3t-pw dbname=herald')).toBe('host=postgres user=herald password=[redacted] dbname=herald');
    expect(redactText('/orders?access_token=abc&page=2')).toBe('/orders?access_token=[redacted]&page=2');
    expect(redactText('a bearer token is required')).toBe('a bearer token is required');
  });
});
