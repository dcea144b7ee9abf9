/**
 * The client's side of the opening handshake (RFC 6455 §4.1), I/O-free: the headers to send with
 * the GET, then the server's answer checked against them, giving what was agreed and the
 * Connection's options — or why the connection must fail.
 */
import type { ConnectionOptions } from './connection.js';
import { acceptResponse, buildOffer, EXTENSION_NAME, type DeflateOptions, type DeflateParams } from './extensions/permessage-deflate.js';
import { checkNegotiated, checkResponse, generateKey, invalidHeaders, isKey, isToken, type Headers, type ResponseCheck } from './handshake.js';

export interface ClientHandshakeOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string | readonly string[];
  /** permessage-deflate (RFC 7692): offered by default; false to not offer it. */
  perMessageDeflate?: boolean | DeflateOptions;
  /** Passed on to the Connection's options. */
  maxPayload?: number;
  streaming?: boolean;
  /** Sec-WebSocket-Key; a fresh random one by default (a fixed key is for tests only). */
  key?: string;
}

export interface ClientAcceptance {
  ok: true;
  /** The subprotocol the server chose; '' for none. */
  protocol: string;
  /** The Sec-WebSocket-Extensions value the server sent; '' for none. */
  extensions: string;
  /** For `new Connection('client', events, connection)`. */
  connection: ConnectionOptions;
}

export interface ClientFailure {
  ok: false;
  /** Why the connection must fail (§4.1: "the client MUST _Fail the WebSocket Connection_"). */
  message: string;
}

export class ClientHandshake {
  readonly key: string;
  readonly protocols: readonly string[];
  /** The permessage-deflate options offered, or null when not offered. */
  readonly deflate: DeflateOptions | null;
  private readonly options: ClientHandshakeOptions;

  /** Throws SyntaxError for a subprotocol that is not a token or is offered twice (§4.1). */
  constructor(options: ClientHandshakeOptions = {}) {
    this.options = options;
    const protocols = options.protocols === undefined ? [] : typeof options.protocols === 'string' ? [options.protocols] : [...options.protocols];
    if (new Set(protocols).size !== protocols.length) throw new SyntaxError('Subprotocols must be unique');
    for (const protocol of protocols) {
      if (typeof protocol !== 'string' || !isToken(protocol)) throw new SyntaxError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    this.protocols = protocols;
    if (options.key !== undefined && !isKey(options.key)) throw new TypeError('Sec-WebSocket-Key must be base64 of 16 bytes');
    this.key = options.key ?? generateKey();
    const deflate = options.perMessageDeflate;
    this.deflate = deflate === false ? null : deflate === true || !deflate ? {} : deflate;
  }

  /** The handshake's own request headers; the caller adds Host (and Origin, if any). */
  requestHeaders(): Record<string, string> {
    const headers: Record<string, string> = {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': this.key,
      'Sec-WebSocket-Version': '13',
    };
    if (this.protocols.length) headers['Sec-WebSocket-Protocol'] = this.protocols.join(', ');
    if (this.deflate) headers['Sec-WebSocket-Extensions'] = buildOffer(this.deflate);
    return headers;
  }

  /**
   * The whole request head, for a transport that writes bytes itself. `target` is the
   * origin-form path and query; `host` the Host value. Throws TypeError on an invalid extra header.
   */
  requestHead(target: string, host: string, extra: Record<string, string> = {}): string {
    const problem = invalidHeaders({ Host: host, ...extra });
    if (problem) throw new TypeError(problem);
    const own = new Set(['host', ...Object.keys(this.requestHeaders()).map((name) => name.toLowerCase())]);
    for (const name of Object.keys(extra)) {
      if (own.has(name.toLowerCase())) throw new TypeError(`Header ${name} is set by the handshake`);
    }
    if (!/^\/[\x21-\x7e]*$/.test(target)) throw new TypeError(`Invalid request target: ${JSON.stringify(target)}`);
    const lines = [`GET ${target} HTTP/1.1`, `Host: ${host}`];
    for (const [name, value] of Object.entries({ ...this.requestHeaders(), ...extra })) lines.push(`${name}: ${value}`);
    return lines.join('\r\n') + '\r\n\r\n';
  }

  /** Checks the server's response (§4.1 steps 1–6, RFC 7692 §5.1). Header names lower-case. */
  checkResponse(status: number | undefined, headers: Headers): ClientAcceptance | ClientFailure {
    return this.agreed(checkResponse(status, headers, this.key, this.protocols, this.deflate ? [EXTENSION_NAME] : []));
  }

  /**
   * Checks the answer to an extended CONNECT (RFC 8441 §5): a 2xx, with subprotocol and
   * extensions checked as in a 101; there is no Sec-WebSocket-Accept to check.
   */
  checkExtendedConnectResponse(status: number | undefined, headers: Headers): ClientAcceptance | ClientFailure {
    if (status === undefined || status < 200 || status > 299) return this.agreed({ ok: false, message: `Unexpected server response: ${status}` });
    return this.agreed(checkNegotiated(headers, this.protocols, this.deflate ? [EXTENSION_NAME] : []));
  }

  private agreed(check: ResponseCheck): ClientAcceptance | ClientFailure {
    if (!check.ok) return check;
    let deflate: DeflateParams | null = null;
    if (check.extensions) {
      const agreed = acceptResponse(check.extensions, this.deflate!);
      if (typeof agreed === 'string') return { ok: false, message: agreed };
      deflate = agreed;
    }
    return {
      ok: true,
      protocol: check.protocol,
      extensions: check.extensions,
      connection: {
        maxPayload: this.options.maxPayload,
        streaming: this.options.streaming,
        deflate: deflate ? { params: deflate, options: this.deflate! } : null,
      },
    };
  }
}
