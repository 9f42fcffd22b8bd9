import { postOrder, problemCode, sleep, type Answer } from './client.js';

/** The payment limit the scenarios run with; orders priced above it are declined. */
export const LIMIT_CENTS = 100_000;

export interface OrderBody {
  readonly customerId: string;
  readonly flightId: string;
  readonly seat: string;
  readonly priceCents: number;
}

/** One order request and how the scenario sends it. */
export interface OrderRequest {
  readonly key: string;
  readonly body: OrderBody;
  /** Also sent a second time with the same key: at the same moment, or after the first answer. */
  readonly duplicate: 'none' | 'concurrent' | 'after';
}

/** A unit of client work: one request, or two requests for one seat sent together. */
export type Job = { readonly kind: 'single'; readonly request: OrderRequest } | { readonly kind: 'seat-race'; readonly requests: readonly [OrderRequest, OrderRequest] };

/**
 * `n` order requests over 20 flights, each for its own seat except for seat races: every 25th
 * request asks for the same seat as the one before it, at the same moment, so exactly one of the
 * two can win. Every 10th order is priced above the limit (declined, then cancelled); every 5th
 * is sent twice with the same Idempotency-Key (half concurrently, half after the first answer).
 */
export function buildJobs(n: number, runId: string): Job[] {
  const requests: OrderRequest[] = [];
  for (let i = 0; i < n; i++) {
    const seatIndex = Math.floor(i / 20);
    const racer = i % 25 === 24;
    const previous = requests[i - 1];
    const body: OrderBody = {
      customerId: `c-${runId}-${i}`,
      flightId: racer && previous ? previous.body.flightId : `SU${1000 + (i % 20)}`,
      seat: racer && previous ? previous.body.seat : `${Math.floor(seatIndex / 6) + 1}${'ABCDEF'[seatIndex % 6]}`,
      priceCents: i % 10 === 7 ? LIMIT_CENTS + 50_000 : 5_000 + i,
    };
    const duplicate = i % 25 >= 23 || i % 5 !== 0 ? 'none' : i % 10 === 0 ? 'concurrent' : 'after';
    requests.push({ key: `key-${runId}-${i}`, body, duplicate });
  }
  const jobs: Job[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 25 === 23 && i + 1 < n) {
      jobs.push({ kind: 'seat-race', requests: [requests[i]!, requests[i + 1]!] });
      i++;
    } else jobs.push({ kind: 'single', request: requests[i]! });
  }
  return jobs;
}

/** What the client saw for one key. */
export interface KeyOutcome {
  readonly request: OrderRequest;
  /** Final answers in the order they arrived (one per send of this key). */
  readonly answers: Answer[];
}

export interface ClientStats {
  transportErrors: number;
  inFlightRetries: number;
  /** Requests whose resend after a transport error found their key left in flight by a killed process (409), until its lease lapsed. */
  inFlightAfterTransportError: number;
}

/**
 * Sends one request until it gets an answer other than "in flight": on a transport error (the
 * server was killed) it waits for `baseUrl()` to answer again and resends with the same key, as a
 * client of an idempotent API should; on 409 idempotency-key-in-flight it waits and resends.
 */
export async function sendUntilAnswered(baseUrl: () => string, request: OrderRequest, stats: ClientStats, deadlineMs = 90_000): Promise<Answer> {
  const deadline = Date.now() + deadlineMs;
  let lostConnection = false;
  let stranded = false;
  for (let attempt = 1; ; attempt++) {
    if (Date.now() > deadline) throw new Error(`no answer for ${request.key} within ${deadlineMs} ms`);
    let answer: Answer;
    try {
      answer = await postOrder(baseUrl(), request.body, request.key);
    } catch {
      lostConnection = true;
      stats.transportErrors++;
      await sleep(100);
      continue;
    }
    if (answer.status === 409 && problemCode(answer) === 'idempotency-key-in-flight') {
      stats.inFlightRetries++;
      // a concurrent duplicate may be the live holder; otherwise the holder died with its process
      if (lostConnection && request.duplicate !== 'concurrent' && !stranded) {
        stranded = true;
        stats.inFlightAfterTransportError++;
      }
      await sleep(Math.min(25 * attempt, 250));
      continue;
    }
    return answer;
  }
}

/** Runs one job, recording every answer per key. */
export async function runJob(baseUrl: () => string, job: Job, outcomes: Map<string, KeyOutcome>, stats: ClientStats): Promise<void> {
  const record = (request: OrderRequest, answer: Answer) => {
    const outcome = outcomes.get(request.key) ?? { request, answers: [] };
    outcome.answers.push(answer);
    outcomes.set(request.key, outcome);
  };
  const one = async (request: OrderRequest) => {
    if (request.duplicate === 'concurrent') {
      const answers = await Promise.all([sendUntilAnswered(baseUrl, request, stats), sendUntilAnswered(baseUrl, request, stats)]);
      answers.forEach((a) => record(request, a));
      return;
    }
    record(request, await sendUntilAnswered(baseUrl, request, stats));
    if (request.duplicate === 'after') record(request, await sendUntilAnswered(baseUrl, request, stats));
  };
  if (job.kind === 'single') await one(job.request);
  else await Promise.all(job.requests.map(one));
}
