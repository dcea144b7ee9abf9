/** Peers for WebSockets over HTTP/2 tests: our servers on TLS ports, and node:http2 as a raw peer. */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket } from '../../src/index.js';
import type { Certificate } from '../helpers/certificate.js';
import type { Defer } from '../helpers/cleanup.js';
import { echo } from '../helpers/server.js';

export interface Started {
  server: WebSocketServer;
  port: number;
  url: string;
}

/** A standalone TLS WebSocketServer (HTTP/1.1 and HTTP/2 on one port) that echoes. */
export async function startTlsEchoServer(defer: Defer, certificate: Certificate, options: Omit<ServerOptions, 'port'> = {}): Promise<Started> {
  const server = echo(new WebSocketServer({ port: 0, host: '127.0.0.1', key: certificate.key, cert: certificate.cert, ...options }));
  defer(() => server.close({ timeout: 100 }));
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return { server, port, url: `wss://localhost:${port}` };
}

/** A node:http2 client session to `port`, once the server's SETTINGS came; closed at cleanup. */
export async function h2Session(defer: Defer, port: number, certificate: Certificate): Promise<{ session: http2.ClientHttp2Session; settings: http2.Settings }> {
  const session = http2.connect(`https://localhost:${port}`, { ca: certificate.cert });
  session.on('error', () => {});
  defer(() => session.destroy());
  const settings = await new Promise<http2.Settings>((resolve, reject) => {
    session.once('remoteSettings', resolve);
    session.once('error', reject);
  });
  return { session, settings };
}

/** The request header block of an extended CONNECT for a WebSocket; `null` values are left out. */
export function connectHeaders(path = '/', extra: Record<string, string | null> = {}): http2.OutgoingHttpHeaders {
  const headers: Record<string, string | null> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': path,
    ':authority': 'localhost',
    'sec-websocket-version': '13',
    ...extra,
  };
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== null)) as http2.OutgoingHttpHeaders;
}

/** Sends a request on the session; resolves with the stream and the response's header block. */
export function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<{ stream: http2.ClientHttp2Stream; response: http2.IncomingHttpHeaders }> {
  const stream = session.request(headers, { endStream: false });
  stream.on('error', () => {});
  return new Promise((resolve, reject) => {
    stream.once('response', (response) => resolve({ stream, response }));
    stream.once('close', () => reject(new Error(`stream closed without a response (RST_STREAM ${stream.rstCode})`)));
  });
}

/** The body of a response (a refusal's message). */
export async function body(stream: http2.ClientHttp2Stream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk;
  return text;
}

/** The server-side connection's underlying stream (to assert it is an Http2Stream). */
export function transportOf(ws: WebSocket): unknown {
  return (ws as unknown as { transport: { socket: unknown } }).transport.socket;
}
