/** Which proxy a URL goes through: the option, the environment variables, NO_PROXY matching. */
import { describe, expect, it } from 'vitest';
import { bypassesProxy, proxyFor } from '../../src/node/proxy.js';

const href = (url: URL | null) => url?.href ?? null;

describe('bypassesProxy (NO_PROXY)', () => {
  const cases: Array<[string, string, string, boolean]> = [
    // host, port, NO_PROXY, bypassed
    ['example.com', '80', '*', true],
    ['example.com', '80', '', false],
    ['example.com', '80', 'example.com', true],
    ['api.example.com', '80', 'example.com', true],
    ['api.example.com', '80', '.example.com', true],
    ['example.com', '80', '.example.com', true],
    ['a.b.example.com', '80', '*.example.com', true],
    ['notexample.com', '80', 'example.com', false],
    ['example.com.evil', '80', 'example.com', false],
    ['EXAMPLE.com.', '80', 'Example.COM', true],
    ['example.com', '443', 'example.com:443', true],
    ['example.com', '80', 'example.com:443', false],
    ['other.org', '80', ' foo.net ,, other.org  bar.io', true],
    ['10.0.0.1', '80', '10.0.0.1', true],
    ['10.0.0.1', '80', '0.0.1', false],
    ['10.0.0.1', '80', '.0.0.1', false],
    ['10.0.0.1', '8080', '10.0.0.1:8080', true],
    ['10.0.0.1', '80', '10.0.0.1:8080', false],
    ['[::1]', '80', '::1', true],
    ['[::1]', '80', '[::1]', true],
    ['[::1]', '80', '0:0:0:0:0:0:0:1', true],
    ['[::1]', '8080', '[::1]:8080', true],
    ['[::1]', '80', '[::1]:8080', false],
    ['[::2]', '80', '::1', false],
    ['localhost', '80', 'localhost,127.0.0.1', true],
    ['127.0.0.1', '80', 'localhost', false],
  ];
  it.each(cases)('%s:%s with NO_PROXY=%j → %s', (host, port, noProxy, expected) => {
    expect(bypassesProxy(host, port, noProxy)).toBe(expected);
  });
});

describe('proxyFor', () => {
  const env = { HTTP_PROXY: 'http://plain.proxy:3128', HTTPS_PROXY: 'http://secure.proxy:3129' };

  it('ws: uses HTTP_PROXY and wss: HTTPS_PROXY; wss: does not fall back to HTTP_PROXY', () => {
    expect(href(proxyFor(new URL('ws://example.com/'), undefined, env))).toBe('http://plain.proxy:3128/');
    expect(href(proxyFor(new URL('wss://example.com/'), undefined, env))).toBe('http://secure.proxy:3129/');
    expect(proxyFor(new URL('wss://example.com/'), undefined, { HTTP_PROXY: env.HTTP_PROXY })).toBeNull();
    expect(proxyFor(new URL('ws://example.com/'), undefined, {})).toBeNull();
  });

  it('lower-case names win over upper-case ones; a bare host:port means http://', () => {
    const mixed = { http_proxy: 'lower.proxy:8080', HTTP_PROXY: 'http://upper.proxy:1', https_proxy: 'http://l.s:2', HTTPS_PROXY: 'http://u.s:3' };
    expect(href(proxyFor(new URL('ws://example.com/'), undefined, mixed))).toBe('http://lower.proxy:8080/');
    expect(href(proxyFor(new URL('wss://example.com/'), undefined, mixed))).toBe('http://l.s:2/');
  });

  it('NO_PROXY (or no_proxy) is matched against the default port when the URL has none', () => {
    expect(proxyFor(new URL('wss://example.com/'), undefined, { ...env, NO_PROXY: 'example.com:443' })).toBeNull();
    expect(proxyFor(new URL('ws://example.com/'), undefined, { ...env, no_proxy: 'example.com:80' })).toBeNull();
    expect(href(proxyFor(new URL('ws://example.com:8080/'), undefined, { ...env, NO_PROXY: 'example.com:80' }))).toBe('http://plain.proxy:3128/');
  });

  it('the option wins: false ignores the environment; a URL is used even for a NO_PROXY host', () => {
    expect(proxyFor(new URL('ws://example.com/'), false, env)).toBeNull();
    const option = proxyFor(new URL('ws://example.com/'), new URL('http://u:p@mine:1080'), { ...env, NO_PROXY: '*' });
    expect(href(option)).toBe('http://u:p@mine:1080/');
  });

  it('under CGI (REQUEST_METHOD set) an upper-case HTTP_PROXY is not trusted', () => {
    expect(proxyFor(new URL('ws://example.com/'), undefined, { ...env, REQUEST_METHOD: 'GET' })).toBeNull();
    expect(href(proxyFor(new URL('ws://example.com/'), undefined, { http_proxy: 'http://p:1', REQUEST_METHOD: 'GET' }))).toBe('http://p:1/');
  });

  it('only http:// proxies', () => {
    expect(() => proxyFor(new URL('ws://example.com/'), 'socks5://127.0.0.1:1080')).toThrow(SyntaxError);
  });
});
