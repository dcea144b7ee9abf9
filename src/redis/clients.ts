/**
 * The two Redis client libraries people use, behind one small interface, found by duck typing so
 * that neither is a dependency: node-redis (v4 and later: `createClient()`, promises,
 * `subscribe(channel, listener, bufferMode)`) and ioredis (`new Redis()`, a 'messageBuffer'
 * event). Payloads go both ways as Buffers: binary-safe.
 */

export type RedisFlavor = 'node-redis' | 'ioredis';

/** The subscriber side: what the broker needs from a connection in subscribe mode. */
export interface SubscriberAdapter {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  /** Calls `handler` for every message on a subscribed channel until `detach()`. */
  attach(handler: (channel: string, message: Buffer) => void, onReady: () => void): void;
  detach(): void;
}

export interface PublisherAdapter {
  publish(channel: string, message: Buffer): Promise<unknown>;
  /** Any command, bulk strings answered as Buffers (the history scripts). */
  call(args: (string | Buffer)[]): Promise<unknown>;
  /** Connected now: a command sent now is not parked in the library's offline queue. */
  ready(): boolean;
  /** Calls `listener` each time the connection is (again) ready. */
  onReady(listener: () => void): void;
}

type AnyClient = Record<string, any>;

/** node-redis clients have `isOpen`/`isReady`; ioredis ones have a `status` string. */
export function detectFlavor(client: unknown): RedisFlavor {
  const c = client as AnyClient | null;
  if (!c || typeof c !== 'object') throw new TypeError('Expected a Redis client instance (node-redis or ioredis)');
  if (typeof c.publish !== 'function' || typeof c.subscribe !== 'function') {
    throw new TypeError('Expected a Redis client instance (node-redis or ioredis): no publish/subscribe methods');
  }
  if ('isOpen' in c && 'isReady' in c) return 'node-redis';
  if (typeof c.status === 'string' && typeof c.on === 'function') return 'ioredis';
  throw new TypeError('Unrecognized Redis client: pass a node-redis (createClient) or ioredis (new Redis) instance, or say which with `flavor`');
}

export function publisherAdapter(client: unknown, flavor: RedisFlavor): PublisherAdapter {
  const c = client as AnyClient;
  // Both take a Buffer and return a promise of the receiver count.
  const publish = (channel: string, message: Buffer) => Promise.resolve(c.publish(channel, message));
  if (flavor === 'node-redis') {
    // 36 is RESP's blob string ('$'): mapped to Buffer, payloads stay binary.
    return {
      publish,
      call: (args) => c.sendCommand(args, { typeMapping: { 36: Buffer } }),
      ready: () => c.isReady === true,
      onReady: (listener) => c.on('ready', listener),
    };
  }
  return {
    publish,
    call: ([command, ...rest]) => c.callBuffer(command, ...rest),
    ready: () => c.status === 'ready',
    onReady: (listener) => c.on('ready', listener),
  };
}

export function subscriberAdapter(client: unknown, flavor: RedisFlavor): SubscriberAdapter {
  return flavor === 'node-redis' ? nodeRedisSubscriber(client as AnyClient) : ioredisSubscriber(client as AnyClient);
}

function nodeRedisSubscriber(c: AnyClient): SubscriberAdapter {
  let handler: ((channel: string, message: Buffer) => void) | null = null;
  let ready: (() => void) | null = null;
  // One listener function for every channel: node-redis keeps listeners in a Set per channel, so
  // subscribing again (after a reconnect) does not add a second one.
  const listener = (message: Buffer, channel: Buffer | string) => handler?.(channel.toString(), message);
  const onReady = () => ready?.();
  return {
    subscribe: (channel) => c.subscribe(channel, listener, true),
    unsubscribe: (channel) => c.unsubscribe(channel, listener, true),
    attach(h, r) {
      handler = h;
      ready = r;
      c.on('ready', onReady);
    },
    detach() {
      handler = null;
      ready = null;
      c.off('ready', onReady);
    },
  };
}

function ioredisSubscriber(c: AnyClient): SubscriberAdapter {
  let handler: ((channel: string, message: Buffer) => void) | null = null;
  let ready: (() => void) | null = null;
  const onMessage = (channel: Buffer, message: Buffer) => handler?.(channel.toString(), message);
  const onReady = () => ready?.();
  return {
    // SUBSCRIBE to a channel already subscribed is a no-op in Redis; messages come through the one event.
    subscribe: (channel) => c.subscribe(channel),
    unsubscribe: (channel) => c.unsubscribe(channel),
    attach(h, r) {
      handler = h;
      ready = r;
      c.on('messageBuffer', onMessage);
      c.on('ready', onReady);
    },
    detach() {
      handler = null;
      ready = null;
      c.off('messageBuffer', onMessage);
      c.off('ready', onReady);
    },
  };
}
