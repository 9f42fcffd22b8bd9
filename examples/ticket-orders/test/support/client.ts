/** One HTTP answer as the tests compare them. */
export interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
  readonly replayed: boolean;
  readonly location: string | null;
}

/** Sends one request with a bounded timeout; throws on transport errors (connection refused or reset). */
export async function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
    replayed: response.headers.get('idempotent-replayed') === 'true',
    location: response.headers.get('location'),
  };
}

/** POST /orders with an Idempotency-Key. */
export function postOrder(baseUrl: string, body: unknown, key: string): Promise<Answer> {
  return send(`${baseUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
}

/** The problem's `code`, when the answer is problem+json. */
export function problemCode(answer: Answer): string | undefined {
  if (answer.contentType !== 'application/problem+json') return undefined;
  return (JSON.parse(answer.text) as { code?: string }).code;
}

export { eventually, pool, sleep } from '@herald/testing';
