// The Node floor: a WebSocket server on node:http that does next to nothing per message, to show
// how much of a figure is Node's own socket layer and how much is the library. Like cecho.c it is
// not a WebSocket implementation: it trusts the load generator's frames (masked, well formed),
// validates nothing, keeps nothing per connection but the socket (and a frame split across reads),
// and writes once per read.
// Run only in the small-message scenarios (its byte-by-byte unmasking says nothing about large ones).
// Usage: node --expose-gc node-floor.mjs PORT
import http from 'node:http';
import { acceptKey } from '../../../dist/protocol/index.js';

const port = Number(process.argv[2] ?? 9003);
const sockets = new Set();
// A frame split across reads waits here; idle connections hold nothing.
const partial = new Map();

const header = (opcode, length) =>
  length < 126 ? Buffer.from([0x80 | opcode, length]) : Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]);
const BROADCAST = Buffer.concat([header(2, 64), Buffer.alloc(64, 98)]);

const server = http.createServer();
server.on('upgrade', (req, socket, head) => {
  const accept = acceptKey(req.headers['sec-websocket-key']);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.setNoDelay(true);
  sockets.add(socket);
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', onClose);
  if (head.length) onData.call(socket, head);
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));

function onClose() {
  sockets.delete(this);
  partial.delete(this);
}

function onData(chunk) {
  const rest = partial.get(this);
  const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
  if (rest) partial.delete(this);
  const out = [];
  let pos = 0;
  while (buf.length - pos >= 2) {
    let length = buf[pos + 1] & 0x7f;
    let at = pos + 2;
    if (length === 126) {
      if (buf.length - pos < 4) break;
      length = buf.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      if (buf.length - pos < 10) break;
      length = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    if (buf.length < at + 4 + length) break;
    const opcode = buf[pos] & 0x0f;
    const payload = buf.subarray(at + 4, at + 4 + length);
    for (let i = 0; i < length; i++) payload[i] ^= buf[at + (i & 3)];
    pos = at + 4 + length;
    if (opcode === 8) {
      const code = payload.subarray(0, 2);
      return void this.end(Buffer.concat([header(8, code.length), code]));
    }
    const command = opcode === 1 ? payload.toString() : '';
    if (command === '!broadcast') {
      for (const socket of sockets) socket.write(BROADCAST);
    } else if (command === '!rss') {
      globalThis.gc?.();
      globalThis.gc?.();
      const text = Buffer.from(`rss:${process.memoryUsage().rss}`);
      out.push(header(1, text.length), text);
    } else {
      out.push(header(opcode, length), payload);
    }
  }
  if (pos < buf.length) partial.set(this, buf.subarray(pos));
  if (out.length) this.write(Buffer.concat(out));
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
