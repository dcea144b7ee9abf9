/**
 * The WHATWG event objects (`open`, `message`, `close`, `error`) that `addEventListener` and the
 * `on*` properties deliver, so browser-style code runs unchanged.
 */
export class WebSocketEvent {
  constructor(
    readonly type: string,
    readonly target: unknown,
  ) {}
  get currentTarget(): unknown {
    return this.target;
  }
}

export class MessageEvent extends WebSocketEvent {
  constructor(
    target: unknown,
    readonly data: unknown,
  ) {
    super('message', target);
  }
}

export class CloseEvent extends WebSocketEvent {
  constructor(
    target: unknown,
    readonly code: number,
    readonly reason: string,
    readonly wasClean: boolean,
  ) {
    super('close', target);
  }
}

export class ErrorEvent extends WebSocketEvent {
  readonly message: string;
  constructor(
    target: unknown,
    readonly error: Error,
  ) {
    super('error', target);
    this.message = error.message;
  }
}

export type EventListenerLike<E> = ((event: E) => void) | { handleEvent(event: E): void };
