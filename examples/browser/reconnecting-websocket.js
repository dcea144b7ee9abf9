// A reconnecting WebSocket for the browser, over the browser's own WebSocket: exponential backoff
// with jitter, a bounded queue for messages sent while disconnected, an onConnect hook run on
// every new connection, and no reconnection after close() or a policy close (1008).
//
// With `topics: true` it speaks rfc6455.topics.v1 (topic-tracker.js): subscribe(topic) is
// remembered with the last position delivered, every reconnection resumes each topic from there
// (to whichever server the URL leads), and the application hears 'topic' once per message, in
// order, and 'gap' when the server's history could not cover the time away.
//
//   const socket = new ReconnectingWebSocket(() => `ws://${location.host}/ws?token=${token}`, {
//     onConnect(ws) { ws.send(JSON.stringify({ type: 'join', room: 'lobby' })); },
//   });
//   socket.addEventListener('message', (event) => console.log(event.data));
//   socket.addEventListener('reconnecting', (event) => console.log('retry in', event.detail.delay));
//
//   const feed = new ReconnectingWebSocket(url, { topics: true });
//   feed.subscribe('room:lobby');              // or subscribe(topic, savedPosition) after a reload
//   feed.addEventListener('topic', (e) => show(e.detail.data, e.detail.offset));
//   feed.addEventListener('gap', (e) => warn(`lost ${e.detail.lost?.offset} → ${e.detail.next}`));
import { isControl, TopicTracker, TOPICS_PROTOCOL } from './topic-tracker.js';

export class ReconnectingWebSocket extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = url; // a string, or a function called before each attempt (fresh token, other server)
    this.options = {
      initialDelay: 250,
      maxDelay: 10000,
      factor: 2,
      jitter: 0.5,
      maxRetries: Infinity,
      maxQueue: 100, // messages kept while disconnected; the oldest are dropped past this
      minUptime: 5000, // a connection must last this long for the retry count to reset
      ...options,
    };
    this.attempt = 0;
    this.queue = [];
    this.ws = null;
    this.stopped = false;
    this.connections = 0;
    this.timer = null;
    this.tracker = this.options.topics ? new TopicTracker() : null;
    this.open();
  }

  get readyState() {
    if (this.stopped) return WebSocket.CLOSED;
    return this.ws ? this.ws.readyState : WebSocket.CONNECTING;
  }

  send(data) {
    if (this.stopped) throw new Error('closed');
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws.send(data);
    this.queue.push(data);
    if (this.queue.length > this.options.maxQueue) this.queue.shift();
  }

  /** Subscribes to a topic (`topics: true`) now if connected, and on every reconnection from where it was. */
  subscribe(topic, since) {
    if (!this.tracker) throw new Error('Topics need the `topics: true` option');
    const frame = this.tracker.subscribe(topic, since);
    if (this.speaksTopics()) this.ws.send(frame);
  }

  unsubscribe(topic) {
    const frame = this.tracker?.unsubscribe(topic);
    if (frame && this.speaksTopics()) this.ws.send(frame);
  }

  /** The last position delivered on a topic: save it to resume after a page reload. */
  position(topic) {
    return this.tracker?.position(topic) ?? null;
  }

  speaksTopics() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.ws.protocol === TOPICS_PROTOCOL;
  }

  close(code = 1000, reason = '') {
    this.stopped = true;
    clearTimeout(this.timer);
    this.queue = [];
    if (this.ws) this.ws.close(code, reason);
    else this.dispatchEvent(new CustomEvent('close', { detail: { code, reason } }));
  }

  open() {
    if (this.stopped) return;
    const url = typeof this.url === 'function' ? this.url(this.attempt) : this.url;
    const offered = [].concat(this.options.protocols ?? []);
    const ws = new WebSocket(url, this.tracker ? [TOPICS_PROTOCOL, ...offered.filter((p) => p !== TOPICS_PROTOCOL)] : offered);
    let opened = false;
    let openedAt = 0;
    ws.addEventListener('open', async () => {
      opened = true;
      openedAt = Date.now();
      try {
        await this.options.onConnect?.(ws, { attempt: this.attempt, reconnect: this.connections > 0 });
      } catch (error) {
        ws.close(4000, 'onConnect failed');
        return;
      }
      this.ws = ws;
      // Back on every topic from where this page was, before anything queued goes out.
      if (this.tracker && ws.protocol === TOPICS_PROTOCOL) for (const frame of this.tracker.resumeFrames()) ws.send(frame);
      else if (this.tracker) this.dispatchEvent(new CustomEvent('error', { detail: { reason: `the server did not accept ${TOPICS_PROTOCOL}` } }));
      const queued = this.queue.splice(0);
      for (const data of queued) ws.send(data);
      const reconnect = this.connections++ > 0;
      this.dispatchEvent(new CustomEvent('open'));
      if (reconnect) this.dispatchEvent(new CustomEvent('reconnect', { detail: { attempt: this.attempt } }));
    });
    ws.addEventListener('message', (event) => {
      if (this.tracker && ws.protocol === TOPICS_PROTOCOL && isControl(event.data)) {
        for (const [type, detail] of this.tracker.handle(event.data)) this.dispatchEvent(new CustomEvent(type, { detail }));
      } else {
        this.dispatchEvent(new MessageEvent('message', { data: event.data }));
      }
    });
    ws.addEventListener('close', (event) => {
      this.ws = null;
      if (this.stopped) return void this.dispatchEvent(new CustomEvent('close', { detail: { code: event.code, reason: event.reason } }));
      if (opened && Date.now() - openedAt >= this.options.minUptime) this.attempt = 0;
      if (opened) this.dispatchEvent(new CustomEvent('disconnect', { detail: { code: event.code, reason: event.reason } }));
      if (event.code === 1008 || this.attempt >= this.options.maxRetries) {
        this.stopped = true;
        return void this.dispatchEvent(new CustomEvent('close', { detail: { code: event.code, reason: event.reason } }));
      }
      this.attempt++;
      const { initialDelay, maxDelay, factor, jitter } = this.options;
      const base = Math.min(maxDelay, initialDelay * factor ** (this.attempt - 1));
      const delay = Math.round(base * (1 - jitter * Math.random()));
      this.dispatchEvent(new CustomEvent('reconnecting', { detail: { attempt: this.attempt, delay } }));
      this.timer = setTimeout(() => this.open(), delay);
    });
  }
}
