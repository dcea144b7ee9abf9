// What an idle connection holds on the server's heap, object by object: a server process takes a
// heap snapshot with one connection open and another after N more, and the difference per
// connection is printed by type and constructor. `bare` is node:http's upgrade alone (the socket,
// kept open and read with one shared listener); `ws` needs the peers (`npm run bench` installs them into bench/.peers).
// Usage: npm run build && node bench/heap-per-connection.mjs rfc6455|ws|bare [N=2000]
import { fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import v8 from 'node:v8';

const [kind = 'rfc6455', count = '2000', role] = process.argv.slice(2);

async function serve() {
  let server;
  const ready = () => process.send({ port: server.address().port });
  if (kind === 'bare') {
    const sockets = [];
    server = http.createServer().listen(0, '127.0.0.1', ready);
    server.on('upgrade', (req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
      socket.on('data', ignore);
      sockets.push(socket);
    });
  } else {
    const lib = kind === 'ws' ? (await import('./.peers/node_modules/ws/index.js')).default : await import('../dist/index.js');
    server = new lib.WebSocketServer({ port: 0, host: '127.0.0.1' }, ready);
    server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  }
  process.on('message', (tag) => {
    if (tag === 'exit') process.exit(0);
    globalThis.gc();
    process.send(v8.writeHeapSnapshot(`/tmp/heap-${kind}-${process.pid}-${tag}.heapsnapshot`));
  });
}

function ignore() {}

/** Self size and count per "type: name" in a snapshot file. */
function tally(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file);
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const totals = new Map();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const t = types[nodes[i + type]];
    const key = `${t}: ${t.includes('string') ? '(strings)' : strings[nodes[i + name]].slice(0, 50)}`;
    const entry = totals.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += nodes[i + size];
    totals.set(key, entry);
  }
  return totals;
}

async function drive() {
  const n = Number(count);
  const child = fork(new URL(import.meta.url).pathname, [kind, count, 'server'], { execArgv: ['--expose-gc'] });
  const reply = () => new Promise((resolve) => child.once('message', resolve));
  const { port } = await reply();
  const snapshot = async (tag) => {
    child.send(tag);
    return tally(await reply());
  };
  const open = () =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', reject);
      socket.write(
        'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      socket.once('data', () => resolve(socket));
    });
  // One connection first, so that what the first one creates once is not counted per connection.
  const sockets = [await open()];
  const before = await snapshot('before');
  for (let i = 0; i < n; i++) sockets.push(await open());
  const after = await snapshot('after');
  const rows = [];
  let total = 0;
  for (const [key, { count: c, bytes }] of after) {
    const was = before.get(key) ?? { count: 0, bytes: 0 };
    total += bytes - was.bytes;
    rows.push([key, (c - was.count) / n, (bytes - was.bytes) / n]);
  }
  console.log(`${kind}: ${Math.round(total / n)} bytes of heap per idle connection (${n} connections)`);
  for (const [key, objects, bytes] of rows.filter((r) => r[2] >= 8).sort((a, b) => b[2] - a[2])) {
    console.log(`${bytes.toFixed(0).padStart(6)} B  ${objects.toFixed(2).padStart(5)}×  ${key}`);
  }
  child.send('exit');
  for (const socket of sockets) socket.destroy();
}

await (role === 'server' ? serve() : drive());
