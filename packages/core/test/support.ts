import type { App } from '@herald/core';

/**
 * Starts `app` and waits for its first assignment without awaiting it; the returned function says
 * whether it is ready yet. For a member that may never get there while a test's fault lasts: a
 * start the test's afterEach closes while it still joins is no failure.
 */
export function readyInBackground(app: Pick<App<unknown>, 'start' | 'ready'>): () => boolean {
  let ready = false;
  void app
    .start()
    .then(() => app.ready())
    .then(
      () => (ready = true),
      () => {},
    );
  return () => ready;
}

/** Polls `check` every 5 ms until it holds; fails after `timeoutMs` naming `what` it waited for. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
