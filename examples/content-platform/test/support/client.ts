/** One answer of the API as the tests read it. */
export interface Reply<T = Record<string, unknown>> {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: T;
  readonly correlationId: string | null;
  readonly replayed: boolean;
}

let keys = 0;

/**
 * A client of the content platform's API at `baseUrl`. Commands get a fresh Idempotency-Key
 * unless given one; every call is bounded in time.
 */
export class ContentApi {
  constructor(public baseUrl: string) {}

  async call<T = Record<string, unknown>>(method: string, path: string, options: { body?: unknown; key?: string | null; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && options.key !== null) headers['idempotency-key'] = options.key ?? `k-${process.pid}-${++keys}`;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: (text ? JSON.parse(text) : {}) as T,
      correlationId: response.headers.get('x-correlation-id'),
      replayed: response.headers.get('idempotent-replayed') === 'true',
    };
  }

  /** A command that must succeed with `status`; returns its body. */
  async ok<T = Record<string, unknown>>(method: string, path: string, status: number, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const reply = await this.call<T>(method, path, { body, headers });
    if (reply.status !== status) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  async register(username: string): Promise<string> {
    return (await this.ok<{ userId: string }>('POST', '/users', 201, { username, email: `${username}@example.com` })).userId;
  }

  /** The ids of the documents `q` finds, of `kind` or both. */
  async search(q: string, kind?: 'post' | 'artist'): Promise<string[]> {
    const params = new URLSearchParams({ q, ...(kind ? { kind } : {}), limit: '100' });
    const reply = await this.call<{ hits: { id: string }[] }>('GET', `/search?${params}`);
    if (reply.status !== 200) throw new Error(`search ${q}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.hits.map((hit) => hit.id);
  }

  async notifications(userId: string): Promise<{ notificationId: string; type: string; text: string; correlationId: string | null }[]> {
    const reply = await this.call<{ notifications: { notificationId: string; type: string; text: string; correlationId: string | null }[] }>('GET', `/users/${userId}/notifications`);
    return reply.body.notifications;
  }
}

export { eventually, pool, sleep } from '@herald/testing';
