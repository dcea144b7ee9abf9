/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1): which offer to accept and with which
 * parameters, as a server; whether the server's answer is acceptable, as a client.
 */
import { formatExtension, parseExtensions, type ExtensionOffer, type ExtensionParams } from './header.js';

export const EXTENSION_NAME = 'permessage-deflate';

export interface DeflateOptions {
  /** Messages smaller than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  /** 8–15; 8 is treated as 9, as zlib does. */
  serverMaxWindowBits?: number;
  /**
   * 8–15. A client may also give `true` (as in ws): offer the parameter bare — "I can take a
   * window size from you" (§7.1.2.2) — without asking for one.
   */
  clientMaxWindowBits?: number | true;
  /** zlib compression level, 0–9 (default: zlib's, 6). */
  level?: number;
  /** zlib memLevel, 1–9 (default 8). */
  memLevel?: number;
}

/** What both sides agreed, from this endpoint's point of view. */
export interface DeflateParams {
  /** Our compressor must reset its window after each message. */
  deflateNoContextTakeover: boolean;
  /** The peer resets its window after each message, so our decompressor may too. */
  inflateNoContextTakeover: boolean;
  deflateWindowBits: number;
  inflateWindowBits: number;
}

interface OfferParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` when offered without a value: the client supports the parameter. */
  clientMaxWindowBits: number | true | undefined;
}

/** Reads one permessage-deflate parameter list; null when a parameter is unknown, repeated or invalid. */
function readParams(params: ExtensionParams, valueRequired: boolean): OfferParams | null {
  const seen = new Set<string>();
  const result: OfferParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of params) {
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== true) return null;
        result.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return null;
        result.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(value);
        if (bits === null) return null;
        result.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        if (value === true && !valueRequired) {
          result.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === null) return null;
        result.clientMaxWindowBits = bits;
        break;
      }
      default:
        return null;
    }
  }
  return result;
}

/** A window size: a decimal integer "without leading zeroes between 8 to 15" (RFC 7692 §7.1.2.1, §7.1.2.2). */
function windowBits(value: string | true): number | null {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

/**
 * zlib has no 8-bit window for raw deflate: asked for 8 it uses 9, on both ends. Peers built on
 * zlib therefore send data that needs a 9-bit window when they agreed to 8, and expect the same.
 */
function zlibBits(bits: number): number {
  return Math.max(bits, 9);
}

/** A window-bits option as a number: unset or `true` (no size asked for) is the largest, 15. */
function windowLimit(option: number | true | undefined): number {
  return typeof option === 'number' ? option : 15;
}

export interface ServerAgreement {
  /** The Sec-WebSocket-Extensions response value. */
  response: string;
  params: DeflateParams;
}

/** Picks the first offer the configuration can honour; null when there is none. */
export function acceptOffer(header: string | undefined, options: DeflateOptions): ServerAgreement | null {
  if (!header) return null;
  const offers = parseExtensions(header);
  if (!offers) return null;
  for (const offer of offers) {
    if (offer.name !== EXTENSION_NAME) continue;
    const agreement = acceptOne(offer, options);
    if (agreement) return agreement;
  }
  return null;
}

function acceptOne(offer: ExtensionOffer, options: DeflateOptions): ServerAgreement | null {
  const offered = readParams(offer.params, false);
  if (!offered) return null;
  const response: ExtensionParams = [];
  const serverNoContextTakeover = offered.serverNoContextTakeover || Boolean(options.serverNoContextTakeover);
  const clientNoContextTakeover = offered.clientNoContextTakeover || Boolean(options.clientNoContextTakeover);
  if (serverNoContextTakeover) response.push(['server_no_context_takeover', true]);
  if (clientNoContextTakeover) response.push(['client_no_context_takeover', true]);

  let serverBits = options.serverMaxWindowBits ?? 15;
  if (offered.serverMaxWindowBits !== undefined) {
    serverBits = Math.min(serverBits, offered.serverMaxWindowBits);
  }
  if (serverBits < 15 || offered.serverMaxWindowBits !== undefined) response.push(['server_max_window_bits', String(serverBits)]);

  let clientBits = 15;
  if (offered.clientMaxWindowBits !== undefined) {
    const limit = offered.clientMaxWindowBits === true ? 15 : offered.clientMaxWindowBits;
    clientBits = Math.min(limit, windowLimit(options.clientMaxWindowBits));
    if (clientBits < 15 || offered.clientMaxWindowBits !== true) response.push(['client_max_window_bits', String(clientBits)]);
  }
  return {
    response: formatExtension(EXTENSION_NAME, response),
    params: {
      deflateNoContextTakeover: serverNoContextTakeover,
      inflateNoContextTakeover: clientNoContextTakeover,
      deflateWindowBits: zlibBits(serverBits),
      inflateWindowBits: zlibBits(clientBits),
    },
  };
}

/** The client's offer. */
export function buildOffer(options: DeflateOptions): string {
  const params: ExtensionParams = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (options.serverMaxWindowBits !== undefined) params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  // Bare when no size is asked for: `client_max_window_bits=true` is not a valid value (§7.1.2.2).
  params.push(
    typeof options.clientMaxWindowBits === 'number'
      ? ['client_max_window_bits', String(options.clientMaxWindowBits)]
      : ['client_max_window_bits', true],
  );
  return formatExtension(EXTENSION_NAME, params);
}

/** Checks the server's answer to `buildOffer(options)` (RFC 7692 §5.1); a string says what is wrong. */
export function acceptResponse(header: string, options: DeflateOptions): DeflateParams | string {
  const extensions = parseExtensions(header);
  if (!extensions) return 'Invalid Sec-WebSocket-Extensions header';
  if (extensions.length !== 1 || extensions[0].name !== EXTENSION_NAME) return 'Unexpected extensions in the response';
  const agreed = readParams(extensions[0].params, true);
  if (!agreed) return 'Invalid permessage-deflate parameters in the response';
  if (options.serverNoContextTakeover && !agreed.serverNoContextTakeover) return 'Server did not agree to server_no_context_takeover';
  if (
    options.serverMaxWindowBits !== undefined &&
    (agreed.serverMaxWindowBits === undefined || agreed.serverMaxWindowBits > options.serverMaxWindowBits)
  ) {
    return 'Server did not agree to server_max_window_bits';
  }
  const clientBits = agreed.clientMaxWindowBits as number | undefined;
  if (clientBits !== undefined && clientBits > windowLimit(options.clientMaxWindowBits)) {
    return 'Invalid client_max_window_bits in the response';
  }
  return {
    deflateNoContextTakeover: agreed.clientNoContextTakeover || Boolean(options.clientNoContextTakeover),
    inflateNoContextTakeover: agreed.serverNoContextTakeover,
    deflateWindowBits: zlibBits(Math.min(clientBits ?? 15, windowLimit(options.clientMaxWindowBits))),
    inflateWindowBits: zlibBits(agreed.serverMaxWindowBits ?? 15),
  };
}
