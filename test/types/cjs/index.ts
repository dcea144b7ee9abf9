// ws-style CommonJS user code: `require('rfc6455')` is the WebSocket class, the rest on it.
import WebSocket = require('rfc6455');
import { WebSocketServer, connect, type RawData, type ServerOptions } from 'rfc6455';
import Default from 'rfc6455';
import protocol = require('rfc6455/protocol');
import { RedisBroker } from 'rfc6455/redis';

const options: ServerOptions = { port: 0 };
const wss = new WebSocket.Server(options);
const same: WebSocket.WebSocketServer = new WebSocket.WebSocketServer({ noServer: true });
const named: WebSocketServer = new WebSocketServer({ noServer: true });
const fromDefault: WebSocket = new Default('ws://127.0.0.1:1');

wss.on('connection', (ws: WebSocket, req) => {
  console.log(req.url, ws.protocol, ws.readyState === WebSocket.OPEN);
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('message', (data: Buffer) => data.toString('utf8'));
  // @ts-expect-error binary messages are Buffers under the default binaryType
  ws.on('message', (data: ArrayBuffer) => data);
  ws.on('close', (code: number, reason: Buffer) => console.log(code, reason.toString()));
});
wss.close(() => undefined);

// Browser-style client: any binaryType may be set; the type parameter says what arrives.
const client = new WebSocket('ws://127.0.0.1:1');
client.binaryType = 'arraybuffer';
client.onmessage = (event) => console.log(event.data);
const typed = new WebSocket<'arraybuffer'>('ws://127.0.0.1:1');
typed.binaryType = 'arraybuffer';
typed.on('message', (data: Buffer | ArrayBuffer, isBinary) => {
  if (isBinary && data instanceof ArrayBuffer) console.log(data.byteLength);
  // @ts-expect-error binary data may be an ArrayBuffer here, not only a Buffer
  const buffer: Buffer = data;
  return buffer;
});
const any: RawData = Buffer.alloc(0);
void any;

// ws.user typed by the server's authenticate().
const auth = new WebSocketServer({ noServer: true, authenticate: async () => ({ id: 1 }) });
auth.on('connection', (ws) => {
  const id: number = ws.user.id;
  return id;
});

// Internal members do not leak into the declarations.
// @ts-expect-error attach is internal
client.attach;

void connect('ws://127.0.0.1:1').catch(() => undefined);
void same, named, fromDefault, protocol.Connection, RedisBroker;

// A WebSocket subclass for accepted connections: 'connection' hands out that class.
class Tagged extends WebSocket {
  tag = 'mine';
}
const tagged = new WebSocket.Server({ noServer: true, WebSocket: Tagged });
tagged.on('connection', (ws) => ws.tag.toUpperCase());
tagged.on('headers', (headers: string[], req) => headers.push(`X-Path: ${req.url}`));

// More ws-style code: RawData-typed listeners, Blob pings, a server typed by its user, read-only state.
const userServer = new WebSocketServer<{ name: string }>({ noServer: true });
userServer.on('connection', (ws) => {
  const name: string = ws.user.name;
  ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => ws.send(isBinary ? 'binary' : name));
  ws.ping(new Blob(['are you there']));
  ws.pong(Buffer.from('x'), true, () => undefined);
  // @ts-expect-error readyState is read-only, as in browsers
  ws.readyState = WebSocket.CLOSED;
});
const anyForm = new WebSocket<'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob'>('ws://127.0.0.1:1');
anyForm.binaryType = 'blob';
anyForm.on('message', (data) => (data instanceof Blob ? data.size : 0));

// The ws idiom of a promise resolved by a no-argument event, with and without a type argument.
void new Promise((resolve) => client.once('open', resolve));
void new Promise((resolve) => wss.once('listening', resolve));
void new Promise<void>((resolve) => wss.once('close', resolve));
