/**
 * A base class that is an EventEmitter in behaviour and an EventTarget by prototype chain.
 *
 * A WebSocket must be both: ws users call `on`/`once`/`emit`, browser code calls
 * `addEventListener` and may test `ws instanceof EventTarget`. A class has one parent, and the
 * prototypes of EventEmitter and EventTarget both end at Object.prototype, so no chain holds
 * both; changing either global (their prototypes or `Symbol.hasInstance`) would change every
 * emitter in the process. So this base puts EventTarget.prototype in the chain and copies
 * EventEmitter's methods (they keep all their state on `this`) onto its own prototype:
 *
 *   WebSocket.prototype → EmitterTarget.prototype (EventEmitter's methods) → EventTarget.prototype
 *
 * `instanceof EventTarget` holds, `instanceof EventEmitter` does not (Node's own helpers —
 * `events.once`, `events.on`, `getEventListeners` — look for `on`/`listeners`, not the class).
 * EventTarget's constructor never runs, so Node's EventTarget methods would refuse this object:
 * the subclass must provide `addEventListener`, `removeEventListener` and `dispatchEvent`
 * (WebSocket does, over the emitter, so `ws.emit('open')` reaches both kinds of listener, as in ws).
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';

function EmitterTargetBase(this: EventEmitter, options?: ConstructorParameters<typeof EventEmitter>[0]): void {
  EventEmitter.call(this, options);
}

const prototype = Object.create(EventTarget.prototype) as Record<PropertyKey, unknown>;
for (const key of Reflect.ownKeys(EventEmitter.prototype)) {
  if (key === 'constructor') continue;
  Object.defineProperty(prototype, key, Object.getOwnPropertyDescriptor(EventEmitter.prototype, key)!);
}
Object.defineProperty(prototype, 'constructor', { value: EmitterTargetBase, writable: true, configurable: true });
// EventTarget's inspector refuses objects its constructor did not make: use the default one.
Object.defineProperty(prototype, inspect.custom, { value: undefined, configurable: true });
EmitterTargetBase.prototype = prototype;
// Statics (defaultMaxListeners, errorMonitor, …) as on a subclass of EventEmitter.
Object.setPrototypeOf(EmitterTargetBase, EventEmitter);

/** Typed as EventEmitter, which is all TypeScript needs to know of it. */
export const EmitterTarget = EmitterTargetBase as unknown as typeof EventEmitter;
