// `npm run example:chat`: a redis-server of its own (unless REDIS_URL is set) and two chat servers
// behind it, on ports 3001 and 3002 (CHAT_PORTS=4001,4002 to change). Ctrl-C stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

const children: ChildProcess[] = [];
const stop = () => {
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  redis.on('error', () => {
    console.error('redis-server not found: install it (apt-get install redis-server) or set REDIS_URL');
    process.exit(1);
  });
  children.push(redis);
  await new Promise<void>((resolve) => {
    let out = '';
    redis.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve();
    });
  });
  redisUrl = `redis://127.0.0.1:${port}`;
  console.log(`redis-server on ${redisUrl}`);
}

const server = fileURLToPath(new URL('server.ts', import.meta.url));
const ports = (process.env.CHAT_PORTS ?? '3001,3002').split(',');
for (const [i, port] of ports.entries()) {
  const child = spawn(process.execPath, ['--import', 'tsx', server], {
    env: { ...process.env, PORT: port, NAME: `server-${String.fromCharCode(65 + i)}`, REDIS_URL: redisUrl },
    stdio: 'inherit',
  });
  children.push(child);
  child.on('exit', (code) => console.log(`chat server on ${port} exited (${code})`));
}
console.log(`Open ${ports.map((p) => `http://127.0.0.1:${p}/`).join(' and ')} in two windows.`);
