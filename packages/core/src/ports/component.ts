/**
 * A long-lived part of an application: the outbox relay, each consumer group, and what later
 * packages add (schedulers, metric exporters, admin servers). `createApp` starts components in a
 * documented order and closes them in the reverse order.
 */
export interface Component {
  /** Shown in logs and errors, e.g. `relay`, `group:billing`. Unique within an app. */
  readonly name: string;
  /** Starts the component; resolves once it runs. `signal` aborts when the app is about to close it. */
  start(signal: AbortSignal): Promise<void>;
  /** Resolves once the component does its job (a group owns its partitions); omitted: once started. */
  ready?(): Promise<void>;
  /**
   * Stops: stops taking new work, finishes (drains) what is in flight until `deadlineMs` has
   * passed, then abandons the rest safely (it is redone after a restart). Idempotent.
   */
  close(options: { readonly deadlineMs: number }): Promise<void>;
}
