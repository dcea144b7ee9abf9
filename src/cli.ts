#!/usr/bin/env node
/**
 * The `rfc6455` command: an echo server and an interactive client, for trying peers by hand.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connect } from './node/connect.js';
import { HandshakeError } from './node/errors.js';
import { isOverHttp2 } from './node/http2-stream.js';
import { WebSocketServer } from './node/server.js';
import { runSubcommand } from './cli/index.js';

const USAGE = `Usage: rfc6455 <command> [options]

Commands:
  echo              run an echo server
  connect <url>     open a connection; lines you type are sent, messages received are printed
  conformance <url> run the Autobahn|Testsuite against a server (or --client -- COMMAND: a client)
  bench <url>       measure an echo server's messages/s and latency (also churn, broadcast, --compare)

Run "rfc6455 <command> --help" for a command's options; "rfc6455 --version" for the version.`;

const ECHO_USAGE = `Usage: rfc6455 echo [--port 9001] [--host 127.0.0.1] [--max-payload BYTES] [--deflate] [--cert FILE --key FILE]

Echoes every message back as it came (text as text, binary as binary). Ctrl-C closes every
connection with 1001 and exits.

  --deflate     accept permessage-deflate (RFC 7692) from clients that offer it (off by default)
  --cert FILE   with --key: serve wss:// (TLS), over HTTP/1.1 and HTTP/2 (RFC 8441) on the one port
  --key FILE    the certificate's private key (PEM)`;

const CONNECT_USAGE = `Usage: rfc6455 connect <url> [--protocol NAME]... [--header "Name: value"]... [--ca FILE] [--insecure] [--http2]

Sends each line typed as a text message and prints each message received (binary as hex).
Ctrl-D or Ctrl-C closes the connection with 1000. A refused handshake prints the server's status,
headers and body. HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured.

  --ca FILE    trust the certificate(s) in this PEM file for wss:// (a dev server's self-signed one)
  --insecure   do not check the server's certificate at all (rejectUnauthorized: false; dev only)
  --http2      wss:// as a stream of an HTTP/2 connection (RFC 8441); HTTP/1.1 if the server has none`;

async function echo(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '9001' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-payload': { type: 'string' },
      deflate: { type: 'boolean', default: false },
      cert: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(ECHO_USAGE);
  if ((values.cert === undefined) !== (values.key === undefined)) throw new Error('--cert and --key go together');
  const maxPayload = values['max-payload'] ? Number(values['max-payload']) : undefined;
  const tls = values.cert === undefined ? {} : { cert: readFileSync(values.cert), key: readFileSync(values.key!) };
  const server = new WebSocketServer({ port: Number(values.port), host: values.host, maxPayload, perMessageDeflate: values.deflate, ...tls });
  server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  });
  server.on('error', (error) => {
    console.error(`rfc6455 echo: ${error.message}`);
    process.exit(1);
  });
  server.on('listening', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : values.port;
    const host = values.host!.includes(':') ? `[${values.host}]` : values.host;
    console.log(values.cert === undefined ? `echo server listening on ws://${host}:${port}` : `echo server listening on wss://${host}:${port} (HTTP/1.1 and HTTP/2)`);
  });
  const shutdown = () => {
    console.log('closing…');
    server.close({ code: 1001, reason: 'server shutting down' }).then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

async function client(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      protocol: { type: 'string', multiple: true },
      header: { type: 'string', multiple: true },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      http2: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) return console.log(CONNECT_USAGE);
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon > 0) headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const ca = values.ca === undefined ? undefined : readFileSync(values.ca);
  const ws = await connect(positionals[0], { protocols: values.protocol, headers, ca, rejectUnauthorized: !values.insecure, http2: values.http2 });
  const over = values.http2 ? (isOverHttp2(ws) ? ' over HTTP/2' : ' over HTTP/1.1') : '';
  console.log(`connected to ${ws.url}${over}${ws.protocol ? ` (subprotocol ${ws.protocol})` : ''}`);
  ws.on('message', (data, isBinary) => {
    console.log(isBinary ? `< binary ${(data as Buffer).toString('hex')}` : `< ${data.toString()}`);
  });
  ws.on('close', (code, reason, wasClean) => {
    console.log(`closed: ${code}${reason.length ? ` ${reason}` : ''}${wasClean ? '' : ' (not clean)'}`);
    process.exit(0);
  });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => ws.readyState === ws.OPEN && ws.send(line));
  lines.on('close', () => ws.close(1000));
  process.once('SIGINT', () => ws.close(1000));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') return console.log(version());
  if (command === 'echo') return echo(rest);
  if (command === 'connect') return client(rest);
  if (command === 'conformance' || command === 'bench') return runSubcommand(command, rest);
  console.log(USAGE);
  if (command && command !== '--help' && command !== '-h') process.exitCode = 2;
}

/** From package.json, one directory up from both src/cli.ts and dist/cli.js. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** A refusal says why in its status, headers and body: all of it goes to stderr. */
function describeFailure(error: Error): string {
  const lines = [`rfc6455: ${error.message}`];
  if (error instanceof HandshakeError && error.status !== undefined) {
    lines.push(`HTTP ${error.status}`);
    for (const [name, value] of Object.entries(error.headers ?? {})) lines.push(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
    if (error.body?.length) lines.push('', error.body.toString());
  }
  return lines.join('\n');
}

main(process.argv.slice(2)).catch((error: Error) => {
  console.error(describeFailure(error));
  process.exit(1);
});
