import { describe, expect, it } from 'vitest';
import { jsonLogger, jsonReadyFields } from '@herald/core';

// Which field names make a value a credential. `key` is not one of them: it is an event's
// partition key, on the lines of every delivery, retry and dead letter; only the names that say
// whose key it is (`apiKey`, `privateKey`, `secretAccessKey`...) do.

describe('a field named key', () => {
  it("is kept, as it is Herald's partition key, wherever it is; a key=... in text outside a query too", () => {
    const ready = jsonReadyFields({ key: 'order-1', event: { topic: 'orders', key: 'customer-7' }, keys: ['a'], keyId: 'kid-1', note: 'partition key=order-1' });
    expect(ready).toEqual({ key: 'order-1', event: { topic: 'orders', key: 'customer-7' }, keys: ['a'], keyId: 'kid-1', note: 'partition key=order-1' });
    const lines: string[] = [];
    jsonLogger({ level: 'info', write: (line) => lines.push(line) }).info('handled', { key: 'order-1' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ key: 'order-1' });
  });

  it('is redacted when its name says whose key it is: an API key, a private key, a secret or an access key, in any case, with - or _', () => {
    const names = ['apiKey', 'api_key', 'x-api-key', 'X-API-KEY', 'privateKey', 'private_key', 'secretKey', 'secret_key', 'secretAccessKey', 'secret_access_key', 'AccountKey', 'SharedAccessKey', 'accessKey'];
    const fields = Object.fromEntries(names.map((name) => [name, `v-${name}`]));
    expect(jsonReadyFields({ ...fields, aws: { accessKeyId: 'AKIA-1', secretAccessKey: 'v-aws', sessionToken: 'v-session' } })).toEqual({
      ...Object.fromEntries(names.map((name) => [name, '[redacted]'])),
      aws: { accessKeyId: 'AKIA-1', secretAccessKey: '[redacted]', sessionToken: '[redacted]' },
    });
  });
});
