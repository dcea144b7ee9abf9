/**
 * The server's side of the opening handshake (RFC 6455 §4.2), I/O-free: a request in, either a
 * refusal to send or the 101 response with what was negotiated and the Connection's options.
 * Runs in two steps so an application can do its own checks (auth, limits) in between.
 */
import type { ConnectionOptions } from './connection.js';
import { acceptOffer, type DeflateOptions } from './extensions/permessage-deflate.js';
import { buildAcceptResponse, buildErrorResponse, checkRequest, isToken, targetPath, type UpgradeRequest } from './handshake.js';

export interface ServerHandshakeOptions<R extends UpgradeRequest = UpgradeRequest> {
  /** Only this path is served (query ignored); others get 404. Default: any path. */
  path?: string;
  /** Picks the subprotocol from those offered; false for none. Default: the first one offered. */
  handleProtocols?: (protocols: Set<string>, request: R) => string | false | null | undefined | void;
  /** permessage-deflate (RFC 7692): off by default; `true` or options to accept clients' offers. */
  perMessageDeflate?: boolean | DeflateOptions;
  /** Passed on to the Connection's options. */
  maxPayload?: number;
  streaming?: boolean;
}

export interface HandshakeRefusal {
  ok: false;
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** A request that passed `check`: what `accept` needs. */
export interface CheckedRequest<R extends UpgradeRequest = UpgradeRequest> {
  ok: true;
  request: R;
  key: string;
  /** Subprotocols offered, in the client's order. */
  protocols: string[];
  /** The target's path, from origin-form or absolute-form. */
  path: string;
}

export interface ServerAcceptance {
  ok: true;
  /** The 101 response head, to write before any frame. */
  response: string;
  /** The subprotocol chosen; '' for none. */
  protocol: string;
  /** The Sec-WebSocket-Extensions response value; '' for none. */
  extensions: string;
  /** For `new Connection('server', events, connection)`. */
  connection: ConnectionOptions;
}

/** `true` → defaults, options as given, off otherwise. */
export function deflateOptions(option: boolean | DeflateOptions | undefined): DeflateOptions | null {
  if (!option) return null;
  return option === true ? {} : option;
}

export class ServerHandshake<R extends UpgradeRequest = UpgradeRequest> {
  private readonly deflate: DeflateOptions | null;

  constructor(readonly options: ServerHandshakeOptions<R> = {}) {
    this.deflate = deflateOptions(options.perMessageDeflate);
  }

  /** Whether a request-target is for this endpoint (any well-formed target when no path is set). */
  matchesPath(target: string | undefined): boolean {
    const path = targetPath(target);
    return path !== null && (this.options.path === undefined || this.options.path === path);
  }

  /** Validates the request (RFC 6455 §4.2.1, RFC 9112 §3.2). */
  check(request: R): CheckedRequest<R> | HandshakeRefusal {
    const path = targetPath(request.url);
    if (path === null) return refusal(400, 'Invalid request target');
    if (this.options.path !== undefined && path !== this.options.path) return refusal(404, 'No WebSocket endpoint at this path');
    const result = checkRequest(request);
    if (!result.ok) return { ...result, ok: false };
    return { ok: true, request, key: result.key, protocols: result.protocols, path };
  }

  /** Negotiates subprotocol and permessage-deflate for a checked request, and builds the 101. */
  accept(checked: CheckedRequest<R>): ServerAcceptance | HandshakeRefusal {
    const agreed = this.agree(checked.request, checked.protocols);
    if (!agreed.ok) return agreed;
    const extra = agreed.extensions ? [`Sec-WebSocket-Extensions: ${agreed.extensions}`] : [];
    return { ...agreed, response: buildAcceptResponse(checked.key, agreed.protocol || undefined, extra) };
  }

  /**
   * Negotiates subprotocol and permessage-deflate, whatever the transport: the HTTP/1.1 101
   * (`accept`) and the HTTP/2 200 (RFC 8441) carry the same answers.
   */
  agree(request: R, protocols: string[]): Omit<ServerAcceptance, 'response'> | HandshakeRefusal {
    let protocol: string | false = protocols[0] ?? false;
    // No answer (undefined, null, '') means none, as false does: `if (ok) return 'x';` choosers
    // written for ws end without a return.
    if (this.options.handleProtocols && protocols.length) protocol = this.options.handleProtocols(new Set(protocols), request) || false;
    // The chooser's answer goes into a header line: anything but a token could inject lines.
    // (A token that was not offered is sent: the client is the one to refuse it, §4.1.)
    if (protocol !== false && (typeof protocol !== 'string' || !isToken(protocol))) {
      return refusal(500, 'Internal Server Error');
    }
    const agreement = this.deflate && acceptOffer(joined(request.headers['sec-websocket-extensions']), this.deflate);
    const extensions = agreement ? agreement.response : '';
    return {
      ok: true,
      protocol: protocol || '',
      extensions,
      connection: {
        maxPayload: this.options.maxPayload,
        streaming: this.options.streaming,
        deflate: agreement ? { params: agreement.params, options: this.deflate! } : null,
      },
    };
  }

  /** `check` then `accept`, for a transport with nothing to do in between. */
  negotiate(request: R): ServerAcceptance | HandshakeRefusal {
    const checked = this.check(request);
    return checked.ok ? this.accept(checked) : checked;
  }
}

/** The complete HTTP response for a refusal; unsafe status or headers become a plain 500. */
export function refusalResponse(refusal: Omit<HandshakeRefusal, 'ok'>): string {
  return buildErrorResponse(refusal.status, refusal.message, refusal.headers);
}

function refusal(status: number, message: string): HandshakeRefusal {
  return { ok: false, status, message };
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
