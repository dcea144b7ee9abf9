/**
 * ReconnectingWebSocket against real servers on loopback: backoff, the queue and its policies,
 * the onConnect hook, and when it must not reconnect.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QueueFullError, ReconnectingWebSocket, WebSocketServer, type ServerOptions, type WebSocket } from '../../src/index.js';
import { freePort, sleep, waitFor } from './helpers.js';

const servers: WebSocketServer[] = [];
const clients: ReconnectingWebSocket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 500 })));
});

interface Echo {
  server: WebSocketServer;
  accepted: WebSocket[];
  received: string[];
}

async function startServer(port: number, options: Partial<ServerOptions> = {}): Promise<Echo> {
  const server = new WebSocketServer({ port, host: '127.0.0.1', ...options });
  servers.push(server);
  const echo: Echo = { server, accepted: [], received: [] };
  server.on('connection', (ws) => {
    echo.accepted.push(ws);
    ws.on('message', (data) => echo.received.push(data.toString()));
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return echo;
}

function track(rws: ReconnectingWebSocket) {
  clients.push(rws);
  const events: string[] = [];
  const delays: number[] = [];
  rws.on('reconnecting', (attempt, delay) => {
    delays.push(delay);
    events.push(`reconnecting ${attempt}`);
  });
  rws.on('reconnect', (_ws, attempt) => events.push(`reconnect ${attempt}`));
  rws.on('open', () => events.push('open'));
  rws.on('disconnect', (info) => events.push(`disconnect ${info.code}`));
  rws.on('close', (code) => events.push(`close ${code}`));
  return { events, delays };
}

describe('ReconnectingWebSocket', () => {
  it('backs off exponentially up to maxDelay, and gives up after maxRetries', async () => {
    const port = await freePort(); // nobody listens
    const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, {
      reconnect: { initialDelay: 20, factor: 2, maxDelay: 100, jitter: 0, maxRetries: 5 },
    });
    const { events, delays } = track(rws);
    await waitFor(() => events.includes('close 1006'), 'giving up', 5_000);
    expect(delays).toEqual([20, 40, 80, 100, 100]);
    expect(events.filter((e) => e.startsWith('reconnecting'))).toHaveLength(5);
    expect(rws.readyState).toBe(3);
  });

  it('jitter draws each delay from [delay × (1 − jitter), delay]', async () => {
    const port = await freePort();
    const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, {
      reconnect: { initialDelay: 10, factor: 1, maxDelay: 10, jitter: 0.5, maxRetries: 30 },
    });
    const { events, delays } = track(rws);
    await waitFor(() => events.includes('close 1006'), 'giving up', 5_000);
    expect(delays).toHaveLength(30);
    for (const d of delays) expect(d >= 5 && d <= 10).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('reconnects after the connection drops, runs onConnect each time, then sends what was queued', async () => {
    const port = await freePort();
    const echo = await startServer(port);
    const hooks: { attempt: number; reconnect: boolean }[] = [];
    const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, {
      reconnect: { initialDelay: 30, jitter: 0 },
      onConnect: async (ws, info) => {
        hooks.push(info);
        ws.send(`hello ${hooks.length}`);
      },
    });
    const { events } = track(rws);
    rws.send('queued before the first connection');
    await waitFor(() => echo.received.length === 2, 'the first connection');
    expect(echo.received).toEqual(['hello 1', 'queued before the first connection']);

    // The server goes away, with its port: sends while down wait in the queue.
    await echo.server.close({ timeout: 100 });
    await waitFor(() => events.includes('disconnect 1001'), 'the disconnection');
    rws.send('while down 1');
    rws.send('while down 2');
    expect(rws.queuedMessages).toBe(2);
    await waitFor(() => events.filter((e) => e.startsWith('reconnecting')).length >= 2, 'two failed attempts');
    const again = await startServer(port);
    await waitFor(() => again.received.length === 3, 'the messages on the new connection');
    expect(again.received).toEqual(['hello 2', 'while down 1', 'while down 2']);
    expect(hooks[0]).toEqual({ attempt: 0, reconnect: false });
    expect(hooks[1].reconnect).toBe(true);
    expect(hooks[1].attempt).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e === 'open')).toHaveLength(2);
    expect(events.some((e) => e.startsWith('reconnect '))).toBe(true);
    // Connected: straight through.
    expect(rws.send('live')).toBe(true);
    await waitFor(() => again.received.at(-1) === 'live', 'a live message');
  });

  it('a full queue: drop-oldest, drop-newest, or an error', async () => {
    const port = await freePort();
    const run = async (policy: 'drop-oldest' | 'drop-newest') => {
      const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, {
        reconnect: { initialDelay: 20, jitter: 0 },
        queue: { maxMessages: 3, policy },
      });
      track(rws);
      const dropped: string[] = [];
      rws.on('dropped', (data) => dropped.push(String(data)));
      for (let i = 1; i <= 5; i++) rws.send(`m${i}`);
      return { rws, dropped };
    };
    const oldest = await run('drop-oldest');
    const newest = await run('drop-newest');
    expect(oldest.dropped).toEqual(['m1', 'm2']);
    expect(newest.dropped).toEqual(['m4', 'm5']);

    const strict = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, { queue: { maxMessages: 2, policy: 'error' } });
    track(strict);
    strict.send('a');
    strict.send('b');
    expect(() => strict.send('c')).toThrow(QueueFullError);

    const bytes = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, { queue: { maxBytes: 10, policy: 'drop-oldest' } });
    track(bytes);
    bytes.send('12345');
    bytes.send('67890');
    bytes.send('abc');
    expect(bytes.queuedMessages).toBe(2);

    const echo = await startServer(port);
    await waitFor(() => echo.received.length === 10, 'the queues flushed', 5_000);
    expect(echo.received).toContain('67890');
    expect(echo.received).not.toContain('12345');
    expect(echo.received.filter((m) => m.startsWith('m')).sort()).toEqual(['m1', 'm2', 'm3', 'm3', 'm4', 'm5']);
    expect(echo.received).toContain('a');
    expect(echo.received).not.toContain('c');
  });

  it('does not reconnect after the application closes it', async () => {
    const port = await freePort();
    const echo = await startServer(port);
    const rws = await ReconnectingWebSocket.connect(`ws://127.0.0.1:${port}`, { reconnect: { initialDelay: 10, jitter: 0 } });
    const { events } = track(rws);
    rws.close(1000, 'bye');
    await waitFor(() => events.includes('close 1000'), 'the close');
    await sleep(200);
    expect(echo.accepted).toHaveLength(1);
    expect(events.some((e) => e.startsWith('reconnecting'))).toBe(false);
    expect(() => rws.send('x')).toThrow(/closed/);
  });

  it('does not reconnect after a policy close (1008) unless told to', async () => {
    const port = await freePort();
    const echo = await startServer(port);
    echo.server.on('connection', (ws) => ws.close(1008, 'banned'));
    const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, { reconnect: { initialDelay: 10, jitter: 0 } });
    const { events } = track(rws);
    await waitFor(() => events.includes('close 1008'), 'the final close');
    await sleep(150);
    expect(echo.accepted).toHaveLength(1);

    const stubborn = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, {
      reconnect: { initialDelay: 10, jitter: 0, maxRetries: 2, shouldReconnect: () => true },
    });
    const tracked = track(stubborn);
    await waitFor(() => tracked.events.some((e) => e.startsWith('close')), 'giving up: ' + JSON.stringify(tracked.events));
    expect(echo.accepted).toHaveLength(4);
  });

  it('does not retry a handshake refused with 401', async () => {
    const port = await freePort();
    const echo = await startServer(port, { authenticate: () => false });
    let attempts = 0;
    echo.server.on('upgradeError', () => {});
    const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}`, { reconnect: { initialDelay: 10, jitter: 0 } });
    rws.on('error', () => attempts++);
    const { events } = track(rws);
    await waitFor(() => events.some((e) => e.startsWith('close')), 'the final close');
    await sleep(100);
    expect(attempts).toBe(1);
    expect(events.some((e) => e.startsWith('reconnecting'))).toBe(false);
  });

  it('moves on to the next URL of a list', async () => {
    const dead = await freePort();
    const port = await freePort();
    const echo = await startServer(port);
    const rws = await ReconnectingWebSocket.connect([`ws://127.0.0.1:${dead}`, `ws://127.0.0.1:${port}`], {
      reconnect: { initialDelay: 10, jitter: 0 },
    });
    track(rws);
    expect(rws.url).toBe(`ws://127.0.0.1:${port}`);
    expect(echo.accepted).toHaveLength(1);
  });
});

/**
 * Starts `make()` and counts, for `window` ms, the attempts it makes ('reconnecting' events and
 * errors). `thrown` is what the constructor threw, if it did (then nothing can be counted).
 */
async function attemptsIn(window: number, make: () => ReconnectingWebSocket): Promise<{ thrown: unknown; retries: number; errors: Error[]; events: string[] }> {
  let rws: ReconnectingWebSocket;
  try {
    rws = make();
  } catch (thrown) {
    return { thrown, retries: 0, errors: [], events: [] };
  }
  const { events } = track(rws);
  const errors: Error[] = [];
  rws.on('error', (error) => errors.push(error));
  await sleep(window);
  return { thrown: undefined, retries: events.filter((e) => e.startsWith('reconnecting')).length, errors, events };
}

describe('ReconnectingWebSocket: what cannot work is not retried, and nothing is retried without waiting', () => {
  const fast = { initialDelay: 10, factor: 2, jitter: 0 };

  it('refuses an unusable URL at construction (SyntaxError) instead of retrying it', async () => {
    const unusable: (string | string[])[] = ['ftp://x', 'not a url', 'ws://', 'ws://127.0.0.1:1/#fragment', ['ws://127.0.0.1:1', 'ftp://x'], []];
    const outcomes = await Promise.all(unusable.map((url) => attemptsIn(300, () => new ReconnectingWebSocket(url, { reconnect: fast }))));
    outcomes.forEach((outcome, i) => {
      const what = `${JSON.stringify(unusable[i])}: ${outcome.retries} retries in 300 ms`;
      expect(outcome.thrown, what).toBeInstanceOf(SyntaxError);
      expect(outcome.retries, what).toBe(0);
    });
  });

  it('an address function that gives an unusable URL fails once, without retrying', async () => {
    let calls = 0;
    const outcome = await attemptsIn(300, () =>
      new ReconnectingWebSocket(() => {
        calls++;
        return 'ftp://x';
      }, { reconnect: fast }),
    );
    expect(calls, `${outcome.retries} retries`).toBe(1);
    expect(outcome.retries).toBe(0);
    expect(outcome.errors.map((e) => e.name)).toEqual(['SyntaxError']);
    expect(outcome.events).toEqual(['close 1006']);
  });

  it('an address function that throws is a failed attempt, retried through the backoff', async () => {
    let calls = 0;
    const outcome = await attemptsIn(500, () =>
      new ReconnectingWebSocket(() => {
        calls++;
        throw new Error('service discovery is down');
      }, { reconnect: { initialDelay: 40, factor: 2, jitter: 0 } }),
    );
    // Attempts at about 0, 40, 120 and 280 ms; the next would be at 600.
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThanOrEqual(5);
    expect(outcome.errors.length).toBe(calls);
    expect(outcome.errors[0].message).toBe('service discovery is down');
  });

  it('a synchronous failure to start an attempt waits for the backoff like any other', async () => {
    // Both throw inside connect() before any I/O: duplicate subprotocols, an invalid header name.
    const starts = [{ protocols: ['chat', 'chat'] }, { headers: { 'bad header': 'x' } }];
    const outcomes = await Promise.all(
      starts.map((options) => attemptsIn(500, () => new ReconnectingWebSocket('ws://127.0.0.1:1', { ...options, reconnect: { initialDelay: 40, factor: 2, jitter: 0 } }))),
    );
    for (const outcome of outcomes) {
      expect(outcome.thrown).toBeUndefined();
      expect(outcome.retries, outcome.errors[0]?.message).toBeGreaterThanOrEqual(2);
      expect(outcome.retries, outcome.errors[0]?.message).toBeLessThanOrEqual(5);
    }
  });

  it('refuses backoff options that would retry without waiting (RangeError)', async () => {
    const options = [{ initialDelay: 0 }, { maxDelay: 0 }, { initialDelay: -5 }, { initialDelay: NaN }, { factor: 0.5 }, { factor: NaN }, { jitter: NaN }];
    const outcomes = await Promise.all(options.map((reconnect) => attemptsIn(300, () => new ReconnectingWebSocket('ws://127.0.0.1:1', { reconnect }))));
    outcomes.forEach((outcome, i) => {
      const what = `${JSON.stringify(options[i], (_k, v: unknown) => (Number.isNaN(v) ? 'NaN' : v))}: ${outcome.retries} retries in 300 ms`;
      expect(outcome.thrown, what).toBeInstanceOf(RangeError);
      expect(outcome.retries, what).toBe(0);
    });
  });
});
