/** Servers on port 0 of 127.0.0.1, torn down through a `Defer`. */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket } from '../../src/index.js';
import type { Defer } from './cleanup.js';

export interface Started {
  server: WebSocketServer;
  port: number;
  url: string;
}

/** A standalone WebSocketServer on a free port; closed (clients terminated after 100 ms) at cleanup. */
export async function startServer(defer: Defer, options: Omit<ServerOptions, 'port'> = {}): Promise<Started> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  defer(() => server.close({ timeout: 100 }));
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

/** Makes every connection echo what it receives, text as text and binary as binary. */
export function echo(server: WebSocketServer): WebSocketServer {
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  return server;
}

/** An echo server, ready. */
export async function startEchoServer(defer: Defer, options: Omit<ServerOptions, 'port'> = {}): Promise<Started> {
  const started = await startServer(defer, options);
  echo(started.server);
  return started;
}

/** A plain node:http server on a free port, closed (connections dropped) at cleanup. */
export async function startHttpServer(defer: Defer, handler?: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  defer(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** The server side of the next connection. */
export function nextConnection(server: WebSocketServer, ms = 5000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection within ${ms} ms`)), ms);
    server.once('connection', (ws) => {
      clearTimeout(timer);
      resolve(ws);
    });
  });
}

/** A port nothing listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
