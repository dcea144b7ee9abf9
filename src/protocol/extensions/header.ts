/**
 * Sec-WebSocket-Extensions values (RFC 6455 §9.1): a list of extensions, each with parameters
 * that are bare tokens or `name=value`, where a value is a token or a quoted string.
 */
export type ExtensionParams = Array<[name: string, value: string | true]>;
export interface ExtensionOffer {
  name: string;
  params: ExtensionParams;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parses a header value; null when it is not well-formed. Names are lower-cased. */
export function parseExtensions(header: string): ExtensionOffer[] | null {
  const offers: ExtensionOffer[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i])) i++;
    return i > start ? header.slice(start, i) : null;
  };
  const quoted = (): string | null => {
    let value = '';
    for (i++; i < n; i++) {
      const c = header[i];
      if (c === '"') {
        i++;
        return value;
      }
      if (c === '\\') {
        if (++i === n) return null;
        value += header[i];
      } else value += c;
    }
    return null;
  };

  while (true) {
    skipSpace();
    const name = token();
    if (!name) return null;
    const offer: ExtensionOffer = { name: name.toLowerCase(), params: [] };
    skipSpace();
    while (header[i] === ';') {
      i++;
      skipSpace();
      const param = token();
      if (!param) return null;
      skipSpace();
      let value: string | true = true;
      if (header[i] === '=') {
        i++;
        skipSpace();
        const v = header[i] === '"' ? quoted() : token();
        // A quoted value must still be a token (RFC 6455 §9.1).
        if (v === null || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v)) return null;
        value = v;
        skipSpace();
      }
      offer.params.push([param.toLowerCase(), value]);
    }
    offers.push(offer);
    if (i === n) return offers;
    if (header[i] !== ',') return null;
    i++;
  }
}

export function formatExtension(name: string, params: ExtensionParams): string {
  return [name, ...params.map(([key, value]) => (value === true ? key : `${key}=${value}`))].join('; ');
}
