/** One HTTP answer as the tests compare them. */
export interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: unknown;
  readonly text: string;
  readonly replayed: boolean;
  readonly location: string | null;
}

/** Sends one request with a bounded timeout; throws on transport errors (connection refused or reset). */
export async function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  return {
    status: response.status,
    contentType,
    text,
    body: contentType?.includes('json') && text ? JSON.parse(text) : undefined,
    replayed: response.headers.get('idempotent-replayed') === 'true',
    location: response.headers.get('location'),
  };
}

/** The problem's `code`, when the answer is problem+json. */
export function problemCode(answer: Answer): string | undefined {
  return answer.contentType === 'application/problem+json' ? (answer.body as { code?: string }).code : undefined;
}

/** A registered user talking to one gateway (`baseUrl` can be switched to another replica). */
export class Customer {
  token = '';
  constructor(
    public baseUrl: string,
    readonly username: string,
    readonly password = `pw-${username}-secret`,
  ) {}

  /** POST /auth/register, then POST /auth/login; throws unless both succeed. */
  async signUp(): Promise<this> {
    const registered = await send(`${this.baseUrl}/auth/register`, { method: 'POST', body: { username: this.username, email: `${this.username}@example.com`, password: this.password } });
    if (registered.status !== 201) throw new Error(`register ${this.username}: ${registered.status} ${registered.text}`);
    const login = await send(`${this.baseUrl}/auth/login`, { method: 'POST', body: { username: this.username, password: this.password } });
    if (login.status !== 200) throw new Error(`login ${this.username}: ${login.status} ${login.text}`);
    this.token = (login.body as { accessToken: string }).accessToken;
    return this;
  }

  private auth(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  order(body: unknown, key: string): Promise<Answer> {
    return send(`${this.baseUrl}/orders`, { method: 'POST', headers: this.auth({ 'idempotency-key': key }), body });
  }

  deposit(amountCents: number, key: string): Promise<Answer> {
    return send(`${this.baseUrl}/billing/deposit`, { method: 'POST', headers: this.auth({ 'idempotency-key': key }), body: { amountCents } });
  }

  get(path: string): Promise<Answer> {
    return send(`${this.baseUrl}${path}`, { headers: this.auth() });
  }
}

/** An order body of `quantity` items at `priceCents` each. */
export function orderBody(priceCents: number, quantity = 1): unknown {
  return { items: [{ sku: 'sku-1', quantity, priceCents }], deliveryAddress: '1 Main Street', paymentMethod: 'balance' };
}

export { eventually, pool, sleep } from '@herald/testing';
