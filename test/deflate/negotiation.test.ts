/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1) and the Sec-WebSocket-Extensions grammar
 * (RFC 6455 §9.1). Each expectation cites the section it comes from.
 */
import { describe, expect, it } from 'vitest';
import { formatExtension, parseExtensions } from '../../src/protocol/extensions/header.js';
import { acceptOffer, acceptResponse, buildOffer, type DeflateOptions } from '../../src/protocol/extensions/permessage-deflate.js';

describe('parseExtensions (RFC 6455 §9.1)', () => {
  it('parses one extension without parameters', () => {
    expect(parseExtensions('permessage-deflate')).toEqual([{ name: 'permessage-deflate', params: [] }]);
  });

  it('parses several offers, in order, with and without values', () => {
    expect(
      parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate, x-foo;a=1;b'),
    ).toEqual([
      { name: 'permessage-deflate', params: [['client_max_window_bits', true], ['server_max_window_bits', '10']] },
      { name: 'permessage-deflate', params: [] },
      { name: 'x-foo', params: [['a', '1'], ['b', true]] },
    ]);
  });

  it('accepts quoted values that are tokens once unquoted, escapes included (§9.1)', () => {
    expect(parseExtensions('permessage-deflate; server_max_window_bits="10"')).toEqual([
      { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
    ]);
    expect(parseExtensions('x; a="\\1\\2"')).toEqual([{ name: 'x', params: [['a', '12']] }]);
  });

  it('tolerates optional whitespace around separators and lower-cases names', () => {
    expect(parseExtensions(' Permessage-Deflate ;\tServer_No_Context_Takeover , x ; a = 1 ')).toEqual([
      { name: 'permessage-deflate', params: [['server_no_context_takeover', true]] },
      { name: 'x', params: [['a', '1']] },
    ]);
  });

  it.each([
    [''],
    [' '],
    [','],
    ['permessage-deflate,'],
    [',permessage-deflate'],
    ['permessage-deflate;'],
    ['permessage-deflate; ;a'],
    ['permessage-deflate; a='],
    ['permessage-deflate; a=b=c'],
    ['permessage-deflate; a="unterminated'],
    ['permessage-deflate; a="\\'],
    ['permessage-deflate; a="has space"'],
    ['permessage-deflate; a=""'],
    ['permessage-deflate a'],
    ['permessage deflate'],
    ['permessage-deflate; a=1 b'],
    ['per/message'],
    ['"quoted"'],
    ['x; a=1;; b'],
  ])('rejects %j', (header) => {
    expect(parseExtensions(header)).toBeNull();
  });

  it('formatExtension writes what parseExtensions reads', () => {
    const text = formatExtension('permessage-deflate', [['server_no_context_takeover', true], ['client_max_window_bits', '9']]);
    expect(text).toBe('permessage-deflate; server_no_context_takeover; client_max_window_bits=9');
    expect(parseExtensions(text)).toEqual([
      { name: 'permessage-deflate', params: [['server_no_context_takeover', true], ['client_max_window_bits', '9']] },
    ]);
  });
});

describe('server: acceptOffer (RFC 7692 §5.1, §7.1)', () => {
  const accept = (header: string | undefined, options: DeflateOptions = {}) => acceptOffer(header, options);

  it('no header, no offer of permessage-deflate, or an unparsable header: declined', () => {
    expect(accept(undefined)).toBeNull();
    expect(accept('')).toBeNull();
    expect(accept('x-webkit-deflate-frame')).toBeNull();
    expect(accept('permessage-deflate; ;')).toBeNull();
  });

  it('a bare offer is accepted with an empty parameter list and 15-bit windows', () => {
    expect(accept('permessage-deflate')).toEqual({
      response: 'permessage-deflate',
      params: { deflateNoContextTakeover: false, inflateNoContextTakeover: false, deflateWindowBits: 15, inflateWindowBits: 15 },
    });
  });

  it('the first acceptable offer wins (§5.1); unknown extensions before it are skipped', () => {
    const result = accept('x-foo, permessage-deflate; server_max_window_bits=10, permessage-deflate');
    expect(result?.response).toBe('permessage-deflate; server_max_window_bits=10');
  });

  it('an offer with an unknown, duplicate or invalid parameter is declined and the next one is tried (§7.1)', () => {
    for (const bad of [
      'permessage-deflate; foo',
      'permessage-deflate; foo=1',
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; client_max_window_bits; client_max_window_bits=10',
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover="x"',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=08',
      'permessage-deflate; server_max_window_bits=abc',
      'permessage-deflate; client_max_window_bits=0',
      'permessage-deflate; client_max_window_bits=16',
      'permessage-deflate; client_max_window_bits=010',
    ]) {
      expect(accept(bad), bad).toBeNull();
      expect(accept(`${bad}, permessage-deflate; client_no_context_takeover`)?.response, bad).toBe(
        'permessage-deflate; client_no_context_takeover',
      );
    }
  });

  it('server_no_context_takeover offered: the server agrees and resets its compressor (§7.1.1.1)', () => {
    const result = accept('permessage-deflate; server_no_context_takeover')!;
    expect(result.response).toBe('permessage-deflate; server_no_context_takeover');
    expect(result.params.deflateNoContextTakeover).toBe(true);
    expect(result.params.inflateNoContextTakeover).toBe(false);
  });

  it('server_no_context_takeover configured: sent even when not offered (§7.1.1.1)', () => {
    const result = accept('permessage-deflate', { serverNoContextTakeover: true })!;
    expect(result.response).toBe('permessage-deflate; server_no_context_takeover');
    expect(result.params.deflateNoContextTakeover).toBe(true);
  });

  it('client_no_context_takeover offered or configured: answered, and the inflater resets (§7.1.1.2)', () => {
    const offered = accept('permessage-deflate; client_no_context_takeover')!;
    expect(offered.response).toBe('permessage-deflate; client_no_context_takeover');
    expect(offered.params.inflateNoContextTakeover).toBe(true);
    expect(offered.params.deflateNoContextTakeover).toBe(false);
    const configured = accept('permessage-deflate', { clientNoContextTakeover: true })!;
    expect(configured.response).toBe('permessage-deflate; client_no_context_takeover');
    expect(configured.params.inflateNoContextTakeover).toBe(true);
  });

  it.each([8, 9, 10, 11, 12, 13, 14, 15])('server_max_window_bits=%i offered: echoed, at most that value (§7.1.2.1)', (bits) => {
    const result = accept(`permessage-deflate; server_max_window_bits=${bits}`)!;
    expect(result.response).toBe(`permessage-deflate; server_max_window_bits=${bits}`);
    // zlib cannot compress with a 256-byte window; 9 bits make distances of at most 250 (see below).
    expect(result.params.deflateWindowBits).toBe(Math.max(bits, 9));
  });

  it('server_max_window_bits: the smaller of the offer and the configuration (§7.1.2.1)', () => {
    expect(accept('permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 })!.response).toBe(
      'permessage-deflate; server_max_window_bits=10',
    );
    expect(accept('permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 12 })!.response).toBe(
      'permessage-deflate; server_max_window_bits=10',
    );
    // Not offered: the server may still announce a smaller window of its own.
    const own = accept('permessage-deflate', { serverMaxWindowBits: 11 })!;
    expect(own.response).toBe('permessage-deflate; server_max_window_bits=11');
    expect(own.params.deflateWindowBits).toBe(11);
  });

  it('client_max_window_bits without a value: the server may set one, or leave it out (§7.1.2.2)', () => {
    const open = accept('permessage-deflate; client_max_window_bits')!;
    expect(open.response).toBe('permessage-deflate');
    expect(open.params.inflateWindowBits).toBe(15);
    const limited = accept('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 })!;
    expect(limited.response).toBe('permessage-deflate; client_max_window_bits=10');
    expect(limited.params.inflateWindowBits).toBe(10);
  });

  it('client_max_window_bits with a value: the response carries at most that value (§7.1.2.2)', () => {
    const offered = accept('permessage-deflate; client_max_window_bits=11')!;
    expect(offered.response).toBe('permessage-deflate; client_max_window_bits=11');
    expect(offered.params.inflateWindowBits).toBe(11);
    expect(accept('permessage-deflate; client_max_window_bits=11', { clientMaxWindowBits: 9 })!.response).toBe(
      'permessage-deflate; client_max_window_bits=9',
    );
    expect(accept('permessage-deflate; client_max_window_bits=11', { clientMaxWindowBits: 13 })!.response).toBe(
      'permessage-deflate; client_max_window_bits=11',
    );
  });

  it('client_max_window_bits not offered: never in the response, whatever is configured (§7.1.2.2)', () => {
    const result = accept('permessage-deflate', { clientMaxWindowBits: 9 })!;
    expect(result.response).toBe('permessage-deflate');
    // The client may use a 32 KiB window, so the inflater must accept one.
    expect(result.params.inflateWindowBits).toBe(15);
  });

  it('8 bits: announced as 8, run as zlib 9 both ways (zlib has no raw 8-bit window)', () => {
    const result = accept('permessage-deflate; server_max_window_bits=8; client_max_window_bits=8')!;
    expect(result.response).toBe('permessage-deflate; server_max_window_bits=8; client_max_window_bits=8');
    expect(result.params.deflateWindowBits).toBe(9);
    expect(result.params.inflateWindowBits).toBe(9);
  });

  it('all parameters together, in the order the response lists them', () => {
    const result = accept(
      'permessage-deflate; client_max_window_bits=12; server_max_window_bits=13; client_no_context_takeover; server_no_context_takeover',
    )!;
    expect(result.response).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=13; client_max_window_bits=12',
    );
    expect(result.params).toEqual({ deflateNoContextTakeover: true, inflateNoContextTakeover: true, deflateWindowBits: 13, inflateWindowBits: 12 });
  });

  it('quoted parameter values are read like tokens (§9.1)', () => {
    expect(accept('permessage-deflate; server_max_window_bits="9"')!.response).toBe('permessage-deflate; server_max_window_bits=9');
  });
});

describe('client: buildOffer and acceptResponse (RFC 7692 §5.1, §7.1)', () => {
  it('offers client_max_window_bits (no value) by default, and each configured parameter', () => {
    expect(buildOffer({})).toBe('permessage-deflate; client_max_window_bits');
    expect(
      buildOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 }),
    ).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9');
  });

  it('every offer we build is accepted by our server as it is', () => {
    for (const options of [{}, { serverNoContextTakeover: true }, { clientMaxWindowBits: 8 }, { serverMaxWindowBits: 8 }]) {
      expect(acceptOffer(buildOffer(options), {})).not.toBeNull();
    }
  });

  it('a bare response: 15-bit windows, contexts kept', () => {
    expect(acceptResponse('permessage-deflate', {})).toEqual({
      deflateNoContextTakeover: false,
      inflateNoContextTakeover: false,
      deflateWindowBits: 15,
      inflateWindowBits: 15,
    });
  });

  it('reads every parameter of a response', () => {
    expect(
      acceptResponse(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
        {},
      ),
    ).toEqual({ deflateNoContextTakeover: true, inflateNoContextTakeover: true, deflateWindowBits: 11, inflateWindowBits: 10 });
  });

  it('client_no_context_takeover configured: honoured even when the server does not echo it (§7.1.1.2)', () => {
    expect(acceptResponse('permessage-deflate', { clientNoContextTakeover: true })).toMatchObject({ deflateNoContextTakeover: true });
  });

  it('8 bits in a response: run as zlib 9', () => {
    expect(acceptResponse('permessage-deflate; server_max_window_bits=8; client_max_window_bits=8', {})).toMatchObject({
      deflateWindowBits: 9,
      inflateWindowBits: 9,
    });
  });

  it.each([
    ['permessage-deflate; ;', /Invalid Sec-WebSocket-Extensions/],
    ['x-foo', /Unexpected extensions/],
    ['permessage-deflate, permessage-deflate', /Unexpected extensions/],
    ['permessage-deflate, x-foo', /Unexpected extensions/],
    ['permessage-deflate; foo', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; server_no_context_takeover=1', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; server_max_window_bits', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; server_max_window_bits=7', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; server_max_window_bits=16', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; server_max_window_bits=09', /Invalid permessage-deflate parameters/],
    ['permessage-deflate; client_max_window_bits=99', /Invalid permessage-deflate parameters/],
    // §7.1.2.2: the response's client_max_window_bits must have a value.
    ['permessage-deflate; client_max_window_bits', /Invalid permessage-deflate parameters/],
  ])('refuses %j', (header, message) => {
    const result = acceptResponse(header, {});
    expect(typeof result).toBe('string');
    expect(result).toMatch(message);
  });

  it('refuses server_max_window_bits above what was asked, or missing when asked (§7.1.2.1)', () => {
    expect(acceptResponse('permessage-deflate; server_max_window_bits=11', { serverMaxWindowBits: 10 })).toMatch(/server_max_window_bits/);
    expect(acceptResponse('permessage-deflate', { serverMaxWindowBits: 10 })).toMatch(/server_max_window_bits/);
    expect(acceptResponse('permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 10 })).toMatchObject({ inflateWindowBits: 9 });
  });

  it('refuses a response without server_no_context_takeover when it was asked for (§7.1.1.1)', () => {
    expect(acceptResponse('permessage-deflate', { serverNoContextTakeover: true })).toMatch(/server_no_context_takeover/);
    expect(acceptResponse('permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true })).toMatchObject({
      inflateNoContextTakeover: true,
    });
  });

  it('refuses client_max_window_bits above the value offered (§7.1.2.2)', () => {
    expect(acceptResponse('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 })).toMatch(/client_max_window_bits/);
    expect(acceptResponse('permessage-deflate; client_max_window_bits=9', { clientMaxWindowBits: 10 })).toMatchObject({ deflateWindowBits: 9 });
    // Left out of the response: the client keeps to what it offered.
    expect(acceptResponse('permessage-deflate', { clientMaxWindowBits: 10 })).toMatchObject({ deflateWindowBits: 10 });
  });
});
