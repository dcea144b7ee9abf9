/**
 * The WHATWG event objects (`open`, `message`, `close`, `error`) that `addEventListener` and the
 * `on*` properties deliver, so browser-style code runs unchanged. They are real `Event`s (Node's
 * global one), constructed as in browsers: `new MessageEvent('message', { data })`.
 *
 * Node's `Event#target` is set only by Node's own `EventTarget#dispatchEvent`, and a WebSocket
 * dispatches through its EventEmitter (see websocket.ts), so the target is kept here instead.
 */

const kTarget = Symbol('rfc6455.event.target');

export class WebSocketEvent extends Event {
  /** @internal */
  [kTarget]: unknown = null;

  override get target(): any {
    return this[kTarget];
  }
  override get currentTarget(): any {
    return this[kTarget];
  }
  override get srcElement(): any {
    return this[kTarget];
  }
}

/**
 * @internal Sets the target of an event about to be dispatched by `target`. Events of other
 * classes (a plain `new Event('open')` given to `dispatchEvent`) get an own property instead.
 */
export function setTarget(event: Event, target: unknown): void {
  if (event instanceof WebSocketEvent) event[kTarget] = target;
  else for (const name of ['target', 'currentTarget', 'srcElement']) Object.defineProperty(event, name, { value: target, configurable: true });
}

/** Event's own init dictionary (the DOM lib's EventInit, which this project does not load). */
export interface EventOptions {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

export interface MessageEventInit extends EventOptions {
  data?: unknown;
  origin?: string;
  lastEventId?: string;
}

export class MessageEvent extends WebSocketEvent {
  readonly data: unknown;
  readonly origin: string;
  readonly lastEventId: string;
  constructor(type: string, init: MessageEventInit = {}) {
    super(type, init);
    this.data = init.data ?? null;
    this.origin = init.origin ?? '';
    this.lastEventId = init.lastEventId ?? '';
  }
}

export interface CloseEventInit extends EventOptions {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

export class CloseEvent extends WebSocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

export interface ErrorEventInit extends EventOptions {
  error?: unknown;
  message?: string;
}

export class ErrorEvent extends WebSocketEvent {
  readonly error: unknown;
  readonly message: string;
  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.error = init.error ?? null;
    this.message = init.message ?? (init.error instanceof Error ? init.error.message : '');
  }
}

export type EventListenerLike<E> = ((event: E) => void) | { handleEvent(event: E): void };
