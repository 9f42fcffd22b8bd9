/**
 * A long-lived part of an application: the outbox relay, each consumer group, and what later
 * packages add (schedulers, metric exporters, admin servers). `createApp` starts components in a
 * documented order and closes them in the reverse order (see {@link HandlerService}).
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

/**
 * A component the app's consumer groups depend on: one their handlers call while they run (a
 * requester awaiting replies), or a check that must pass before they read anything (a stream
 * topology's co-partitioning). `createApp` starts it before the consumer groups and closes it
 * after them, so no handler finds it not yet started or already closed, the groups' drain on
 * close can still use it, and a failed start stops the app before any group read. Other added
 * components start after the groups and close before them.
 */
export interface HandlerService extends Component {
  readonly servesHandlers: true;
}

/** Whether `component` is a {@link HandlerService}. */
export function isHandlerService(component: Component): component is HandlerService {
  return (component as Partial<HandlerService>).servesHandlers === true;
}
