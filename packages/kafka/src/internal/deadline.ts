import { CoreErrors, HeraldError } from '@herald/core';

/** Settles with `work`, or rejects with a retriable `timeout` HeraldError naming `doing` after `timeoutMs`. */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, doing: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HeraldError(CoreErrors.timeout, `kafka: ${doing} took over ${timeoutMs} ms`, { retriable: true })), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
