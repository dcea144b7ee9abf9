// A chat server: rooms are topics, presence per room, token auth, and Redis between processes.
// Rooms keep a history (rfc6455.topics.v1): a page that lost its connection — its server
// restarted, the network dropped — resumes its room from the last message it showed and gets
// everything said meanwhile, once; if that is no longer in history, it is told (a gap).
//
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3001 npx tsx examples/chat/server.ts
//   REDIS_URL=redis://127.0.0.1:6379 PORT=3002 npx tsx examples/chat/server.ts
//
// or both at once with `npm run example:chat` (see README.md). Without REDIS_URL it runs alone.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import { createClient } from 'redis';
import { PublishError, TOPICS_PROTOCOL, WebSocketServer, type WebSocket } from '../../src/index.js';
import { RedisBroker } from '../../src/redis/index.js';

const PORT = Number(process.env.PORT ?? 3001);
const HOST = process.env.HOST ?? '127.0.0.1';
const NAME = process.env.NAME ?? `chat-${PORT}`;
const SECRET = process.env.CHAT_SECRET ?? 'change-me: shared by every chat server';
const REDIS_URL = process.env.REDIS_URL;

// --- Tokens: name and expiry, signed with the secret every server shares. ---

function issueToken(name: string): string {
  const body = Buffer.from(JSON.stringify({ name, exp: Date.now() + 3600_000 })).toString('base64url');
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

function verifyToken(token: string | null): { name: string } | null {
  const [body, signature] = (token ?? '').split('.');
  if (!body || !signature) return null;
  const expected = createHmac('sha256', SECRET).update(body).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
  return claims.exp > Date.now() ? { name: claims.name } : null;
}

// --- Presence: who is in each room, across servers (a Redis hash per room: user → connections). ---

interface Presence {
  join(room: string, user: string): Promise<string[]>;
  leave(room: string, user: string): Promise<string[]>;
}

function memoryPresence(): Presence {
  const rooms = new Map<string, Map<string, number>>();
  const list = (room: string) => [...(rooms.get(room)?.keys() ?? [])].sort();
  return {
    async join(room, user) {
      const members = rooms.get(room) ?? new Map<string, number>();
      rooms.set(room, members);
      members.set(user, (members.get(user) ?? 0) + 1);
      return list(room);
    },
    async leave(room, user) {
      const members = rooms.get(room);
      const left = (members?.get(user) ?? 1) - 1;
      if (left > 0) members!.set(user, left);
      else members?.delete(user);
      return list(room);
    },
  };
}

/** The few commands presence needs, from a connected node-redis client. */
interface PresenceClient {
  hIncrBy(key: string, field: string, by: number): Promise<number>;
  hDel(key: string, field: string): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
}

function redisPresence(client: PresenceClient): Presence {
  const key = (room: string) => `chat:presence:${room}`;
  const list = async (room: string) => Object.keys(await client.hGetAll(key(room))).sort();
  return {
    async join(room, user) {
      await client.hIncrBy(key(room), user, 1);
      return list(room);
    },
    async leave(room, user) {
      if ((await client.hIncrBy(key(room), user, -1)) <= 0) await client.hDel(key(room), user);
      return list(room);
    },
  };
}

let broker: RedisBroker | undefined;
let presence = memoryPresence();
if (REDIS_URL) {
  const publisher = createClient({ url: REDIS_URL });
  const subscriber = publisher.duplicate();
  for (const c of [publisher, subscriber]) c.on('error', (error: Error) => console.error(`[${NAME}] redis: ${error.message}`));
  await Promise.all([publisher.connect(), subscriber.connect()]);
  broker = new RedisBroker({ publisher, subscriber, prefix: 'chat:' });
  broker.on('error', (error) => console.error(`[${NAME}] broker: ${error.message}`));
  presence = redisPresence(publisher as unknown as PresenceClient);
}

// --- HTTP: the page, the browser client, and /login. ---

const files: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/reconnecting-websocket.js': ['../browser/reconnecting-websocket.js', 'text/javascript'],
  '/topic-tracker.js': ['../browser/topic-tracker.js', 'text/javascript'],
};

const httpServer = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'POST' && url.pathname === '/login') {
    let body = '';
    for await (const chunk of req) body += chunk;
    const name = String(JSON.parse(body || '{}').name ?? '').trim().slice(0, 24);
    if (!/^[\p{L}\p{N}_ .-]+$/u.test(name)) return void res.writeHead(400).end('Pick a name');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: issueToken(name), server: NAME }));
    return;
  }
  const file = files[url.pathname];
  if (!file) return void res.writeHead(404).end('Not found');
  res.writeHead(200, { 'Content-Type': file[1] }).end(await readFile(new URL(file[0], import.meta.url)));
});

// --- WebSocket: rooms as topics. ---

const wss = new WebSocketServer({
  server: httpServer,
  path: '/ws',
  broker,
  // The token comes in the query string (a browser cannot set headers on a WebSocket).
  authenticate: (req) => verifyToken(new URL(req.url ?? '/', 'http://x').searchParams.get('token')),
  heartbeat: { interval: 30_000, timeout: 10_000 },
  rateLimit: { messagesPerSecond: 20, policy: 'drop' },
  // The last 1,000 messages of each room, for 10 minutes: in Redis with REDIS_URL, else in memory.
  history: (topic) => (topic.startsWith('room:') ? { size: 1000, ttl: 10 * 60_000 } : null),
  // Pages subscribe to their room themselves; only room topics, for a signed-in user.
  authorizeTopic: (ws, topic) => ws.user !== undefined && /^room:[\w-]{1,32}$/.test(topic),
});

const topic = (room: string) => `room:${room}`;
const send = (ws: WebSocket, message: object) => ws.send(JSON.stringify(message));
/** False when the message could not be stored (Redis unreachable): nobody will get it. */
function publish(room: string, message: object): boolean {
  try {
    wss.publish(topic(room), JSON.stringify({ room, ...message }));
    return true;
  } catch (error) {
    if (error instanceof PublishError) return false;
    throw error;
  }
}

wss.on('connection', (ws) => {
  const { name } = ws.user as { name: string };
  const rooms = new Set<string>();
  send(ws, { type: 'hello', user: name, server: NAME });

  const join = async (room: string) => {
    if (rooms.has(room)) return;
    rooms.add(room);
    // A page speaking rfc6455.topics.v1 subscribes itself (and resumes); others get live messages.
    if (ws.protocol !== TOPICS_PROTOCOL) ws.subscribe(topic(room));
    const users = await presence.join(room, name);
    send(ws, { type: 'joined', room, users });
    publish(room, { type: 'presence', users });
  };
  const leave = async (room: string) => {
    if (!rooms.delete(room)) return;
    ws.unsubscribe(topic(room));
    publish(room, { type: 'presence', users: await presence.leave(room, name) });
  };

  ws.on('message', (data) => {
    let message: { type?: string; room?: string; text?: string };
    try {
      message = JSON.parse(data.toString());
    } catch {
      return;
    }
    const room = String(message.room ?? '').trim().slice(0, 32);
    if (!/^[\w-]+$/.test(room)) return;
    if (message.type === 'join') void join(room);
    else if (message.type === 'leave') void leave(room);
    else if (message.type === 'say' && rooms.has(room)) {
      const text = String(message.text ?? '').slice(0, 2000);
      if (text && !publish(room, { type: 'message', from: name, text, at: Date.now(), via: NAME })) {
        send(ws, { type: 'error', room, text: 'not sent: the server cannot reach its store' });
      }
    }
  });
  ws.on('close', () => {
    for (const room of [...rooms]) void leave(room);
  });
});

httpServer.listen(PORT, HOST, () => console.log(`[${NAME}] chat on http://${HOST}:${PORT}/ ${broker ? `(Redis ${REDIS_URL})` : '(alone)'}`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    wss.close({ code: 1001, reason: 'Server restarting' }).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
