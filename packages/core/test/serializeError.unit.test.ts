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

describe('jsonReadyFields keeps a line within what log backends take', () => {
  it('writes binary data as [binary: N bytes], never its bytes, wherever it is', () => {
    const body = Buffer.from('password=hunter2 '.repeat(1_000));
    const ready = jsonReadyFields({ body, frames: [new Uint8Array(4), new Float64Array(2).buffer], error: Object.assign(new Error('upload failed'), { payload: new DataView(new ArrayBuffer(3)) }) });
    expect(ready).toMatchObject({ body: '[binary: 17000 bytes]', frames: ['[binary: 4 bytes]', '[binary: 16 bytes]'], error: { payload: '[binary: 3 bytes]' } });
    expect(JSON.stringify(ready)).not.toContain('hunter2');
    expect(body.toString('utf8', 0, 16)).toBe('password=hunter2');
  });

  it('cuts a string over 32 KB and an array over 1,000 items, saying how much was left out, and redacts what is kept', () => {
    const text = `postgres://app:s3cr3t@db/x ${'x'.repeat(5_000_000)}`;
    const items = Array.from({ length: 2_500 }, (_, i) => ({ i, token: `t-${i}` }));
    const ready = jsonReadyFields({ text, items, short: 'y'.repeat(32 * 1024) });
    const cut = ready['text'] as string;
    expect(cut.startsWith('postgres://app:[redacted]@db/x xxx')).toBe(true);
    expect(cut.endsWith(`…[${text.length + '[redacted]'.length - 's3cr3t'.length - 32 * 1024} more characters left out]`)).toBe(true);
    expect(cut.length).toBeLessThan(33 * 1024);
    const list = ready['items'] as unknown[];
    expect(list).toHaveLength(1_001);
    expect(list[999]).toEqual({ i: 999, token: '[redacted]' });
    expect(list[1_000]).toBe('[1500 more items left out]');
    expect(ready['short']).toBe('y'.repeat(32 * 1024));
    expect(items).toHaveLength(2_500);
    // a credential across the cut is redacted whole before the cut, not left half written
    const across = jsonReadyFields({ across: `${'x'.repeat(32 * 1024 - 30)} token ${JWT} ${'x'.repeat(100_000)}` })['across'] as string;
    expect(across).toContain('token [redac');
    expect(across).not.toContain(JWT.slice(0, 12));
    // a surrogate pair across the cut is kept whole or left out whole, never split
    const emoji = jsonReadyFields({ emoji: 'a' + '😀'.repeat(20_000) })['emoji'] as string;
    expect(emoji.slice(0, emoji.indexOf('…'))).toBe('a' + '😀'.repeat(16_383));
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

  it("writes a URL password with a raw '@' in it as [redacted] whole, to the last '@' before the host, as URL parsers split it", () => {
    expect(redactText('connect ECONNREFUSED postgres://app:p@ss@db/x')).toBe('connect ECONNREFUSED postgres://app:[redacted]@db/x');
    expect(redactText('amqp://u:a@b@c@mq:5672 and https://ann@corp:pw@@host/path?q=a@b')).toBe('amqp://u:[redacted]@mq:5672 and https://ann@corp:[redacted]@host/path?q=a@b');
  });

  it("writes a query parameter named key as [redacted], as Google's APIs take their API key, and leaves a bare key= outside a query alone", () => {
    expect(redactText('GET https://maps.googleapis.com/maps/api/geocode/json?key=AIzaSyA-1_2&address=x#top')).toBe('GET https://maps.googleapis.com/maps/api/geocode/json?key=[redacted]&address=x#top');
    expect(redactText('/v1/items?page=2&KEY=AIzaSyB')).toBe('/v1/items?page=2&KEY=[redacted]');
    expect(redactText('/v1/items?monkey=1&keys=2 partition key=order-1')).toBe('/v1/items?monkey=1&keys=2 partition key=order-1');
  });

  it('writes Basic credentials, header lines, JSON text and signed URLs as [redacted], and leaves prose and other pairs alone', () => {
    expect(redactText('Authorization: Basic YW5uOmh1bnRlcjI=')).toBe('Authorization: Basic [redacted]');
    expect(redactText('x-api-key: AIzaSyA-123 sent')).toBe('x-api-key: [redacted] sent');
    expect(redactText('body {"user":"ann","password":"hun\\"ter2"}')).toBe('body {"user":"ann","password":"[redacted]"}');
    expect(redactText('GET https://s3/b/o?X-Amz-Signature=abcd1234&X-Amz-Credential=AKIA%2F2024&x=1')).toBe('GET https://s3/b/o?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&x=1');
    // quoted values, as libpq and util.inspect write them; other schemes; spaces around =; a SAS token's sig
    expect(redactText("host=db user=herald password='s3cr3t' dbname=herald")).toBe('host=db user=herald password=[redacted] dbname=herald');
    expect(redactText("invalid config {\n  host: 'db',\n  password: 'hunter2',\n  apiKey: 'AKIA1'\n}")).toBe("invalid config {\n  host: 'db',\n  password: [redacted],\n  apiKey: [redacted]\n}");
    expect(redactText('Authorization: Token 9944b09199c62bcf9418ad846dd0e4bb')).toBe('Authorization: Token [redacted]');
    expect(redactText('Set-Cookie: session=abc; Path=/')).toBe('Set-Cookie: [redacted]');
    expect(redactText('password = hunter2')).toBe('password = [redacted]');
    expect(redactText('https://x.blob.core.windows.net/c?sv=2020&sig=abc%2Bdef')).toBe('https://x.blob.core.windows.net/c?sv=2020&sig=[redacted]');
    for (const prose of ['basic auth is not configured', 'Basic Auth failed', 'error: connection refused at 12:30', 'partition key=order-1 offset=5', 'see https://example.com/docs']) {
      expect(redactText(prose)).toBe(prose);
    }
  });

  it('writes a JWT inside a word as [redacted], after a - or _ or a percent-encoded character, and keeps the prefix', () => {
    expect(redactText(`rejected x-${JWT} at the gateway`)).toBe('rejected x-[redacted] at the gateway');
    expect(redactText(`X-Forwarded-Auth: x-${JWT}`)).toBe('X-Forwarded-Auth: x-[redacted]');
    expect(redactText(`session jwt_${JWT}`)).toBe('session jwt_[redacted]');
    expect(redactText(`GET /login?next=%2Fcb%3Fjwt%3D${JWT}&x=1`)).toBe('GET /login?next=%2Fcb%3Fjwt%3D[redacted]&x=1');
    expect(redactText(`token=x-${JWT}`)).toBe('token=[redacted]');
    // a word that merely holds eyJ, not after a - or _, is left alone (a file name in a stack trace)
    expect(redactText('at journeyJourney.test.ts:12')).toBe('at journeyJourney.test.ts:12');
  });

  it("writes the password of libpq, ODBC and ADO.NET connection strings as [redacted], whole: braced, quoted, with ';' or spaces in it", () => {
    // libpq: pairs split by spaces; a value single-quoted, or bare with ';' in it, \ escaping in both
    expect(redactText('host=db PASSWORD=hun;ter2 dbname=orders')).toBe('host=db PASSWORD=[redacted] dbname=orders');
    expect(redactText("host=db password='it\\'s a secret' dbname=orders")).toBe('host=db password=[redacted] dbname=orders');
    expect(redactText('host=db password=hun\\ ter2 dbname=orders')).toBe('host=db password=[redacted] dbname=orders');
    // ODBC and ADO.NET: pairs split by ';'; a value braced ({}, `}}` a } in it), quoted (the quote doubled), or running to the ';'
    expect(redactText('Driver={ODBC Driver 18};Server=db;UID=u;PWD={hun;ter}}2};Database=orders')).toBe('Driver={ODBC Driver 18};Server=db;UID=u;PWD=[redacted];Database=orders');
    expect(redactText('Server=db;User Id=u;Password="hun;""ter2";Encrypt=true')).toBe('Server=db;User Id=u;Password=[redacted];Encrypt=true');
    expect(redactText("Data Source=db; User ID=u; Password = 'it''s; mine'; Pooling=true")).toBe('Data Source=db; User ID=u; Password = [redacted]; Pooling=true');
    expect(redactText('Server=db;User Id=u;Password=my pass phrase;Database=orders')).toBe('Server=db;User Id=u;Password=[redacted];Database=orders');
    expect(redactText('Server=db;User Id=u;Password=hun;ter2')).toBe('Server=db;User Id=u;Password=[redacted]');
    // Azure's connection strings name theirs AccountKey and SharedAccessKey
    expect(redactText('DefaultEndpointsProtocol=https;AccountName=orders;AccountKey=bXlrZXk+/w==;EndpointSuffix=core.windows.net')).toBe(
      'DefaultEndpointsProtocol=https;AccountName=orders;AccountKey=[redacted];EndpointSuffix=core.windows.net',
    );
    expect(redactText('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=a2V5=')).toBe(
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=[redacted]',
    );
    // what follows a value is kept: the next pair, a list's next item, another key's braces
    expect(redactText('config {password=hunter2, user=ann}')).toBe('config {password=[redacted], user=ann}');
    expect(redactText('issued refresh_token=abc; Path=/; HttpOnly')).toBe('issued refresh_token=[redacted]; Path=/; HttpOnly');
  });

  // text comes from outside (a request's URL is logged for each request): a pattern that backtracks
  // would let one request hold the process for seconds (50,000 characters took 4-8 s each before)
  it('takes time linear in the text, whatever it holds', () => {
    const hostile = [
      '://' + ':'.repeat(50_000),
      'token=x ' + 'a-'.repeat(25_000),
      'x://a:b@h ' + 'a.'.repeat(25_000),
      'basic ' + 'a'.repeat(50_000) + '===',
      '"k":"'.repeat(10_000),
      'token: ' + 'a:'.repeat(25_000),
      'bearer ' + 'a'.repeat(50_000) + '!',
      'password ' + 'a='.repeat(25_000),
      '/orders/' + 'eyJ-'.repeat(25_000),
      "a='" + 'b'.repeat(50_000),
      'authorization: ' + 'x'.repeat(50_000),
      'password' + ' '.repeat(50_000) + 'x',
      // a JWT inside a word, and connection strings' braced, quoted and ';'-split values
      'x' + '-eyJa'.repeat(10_000),
      '%3DeyJ' + '_eyJ.'.repeat(10_000),
      'pwd={ '.repeat(8_500),
      'pwd={' + '}}'.repeat(25_000),
      'pwd=1' + ' '.repeat(50_000) + 'x',
      'pwd=1' + '\t'.repeat(50_000) + 'x',
      'pwd=1;' + ' \t'.repeat(25_000) + 'x',
      ';pwd="'.repeat(8_500),
      ";pwd='a b=\t".repeat(5_000),
      'password=a' + ';b c'.repeat(12_500),
      'password=' + ',a\\'.repeat(12_500),
      "a='" + "''".repeat(25_000),
      // a URL's user info up to its last '@', with many '@' or none
      'x://a:' + '@b'.repeat(25_000),
      'x://a:' + 'b'.repeat(50_000),
      'x://a:b@'.repeat(6_000),
      'a://:'.repeat(10_000),
      '?key=' + '?key=x'.repeat(8_000),
      '&key=' + '&'.repeat(50_000),
    ];
    const started = performance.now();
    for (const text of hostile) redactText(text);
    // each takes about a millisecond; a quadratic pattern takes seconds on any of them
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
