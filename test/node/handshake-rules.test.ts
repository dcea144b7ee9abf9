// Request rules the server enforces over real TCP: Host (RFC 9112 §3.2), absolute-form targets
// (RFC 9112 §3.2.2), no body on an upgrade GET, and refusal headers from hooks that cannot
// inject header lines (RFC 9110 §5.5).
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../helpers/cleanup.js';
import { rawRequest, upgradeRequest } from '../helpers/raw.js';
import { startEchoServer } from '../helpers/server.js';
import { once } from '../helpers/wait.js';

const defer = useCleanup();

describe('Host header (RFC 9112 §3.2)', () => {
  it('a request without Host is refused with 400', async () => {
    const { port } = await startEchoServer(defer);
    const res = await rawRequest(port, upgradeRequest(port, { headers: { Host: null } }));
    expect(res.status).toBe(400);
    expect(res.closedByServer).toBe(true);
  });

  it('a request with two Host lines is refused with 400, whatever their values', async () => {
    const { port } = await startEchoServer(defer);
    // The helper writes one line per entry: the second Host rides in the first one's value.
    for (const second of ['evil.example', `127.0.0.1:${port}`]) {
      const res = await rawRequest(port, upgradeRequest(port, { headers: { Host: `127.0.0.1:${port}\r\nHost: ${second}` } }));
      expect(res.status, second).toBe(400);
    }
  });

  it('a Host that is not uri-host[:port] is refused with 400; an empty one is allowed', async () => {
    const { port } = await startEchoServer(defer);
    expect((await rawRequest(port, upgradeRequest(port, { headers: { Host: 'a b' } }))).status).toBe(400);
    expect((await rawRequest(port, upgradeRequest(port, { headers: { Host: 'a/b' } }))).status).toBe(400);
    expect((await rawRequest(port, upgradeRequest(port, { headers: { Host: '' } }))).status).toBe(101);
    expect((await rawRequest(port, upgradeRequest(port, { headers: { Host: '[::1]:80' } }))).status).toBe(101);
  });
});

describe('absolute-form request target (RFC 9112 §3.2.2)', () => {
  it('is accepted when the path inside matches the path option; another path is still a 404', async () => {
    const { port } = await startEchoServer(defer, { path: '/chat' });
    for (const target of [`http://127.0.0.1:${port}/chat`, `ws://127.0.0.1:${port}/chat?room=1`, `HTTPS://other.example/chat`]) {
      const res = await rawRequest(port, upgradeRequest(port, { path: target }));
      expect(res.status, target).toBe(101);
    }
    expect((await rawRequest(port, upgradeRequest(port, { path: `http://127.0.0.1:${port}/other` }))).status).toBe(404);
    expect((await rawRequest(port, upgradeRequest(port, { path: `http://127.0.0.1:${port}` }))).status).toBe(404);
  });

  it('the connection handler sees the absolute target as ws.url', async () => {
    const { port, server } = await startEchoServer(defer, { path: '/chat' });
    const connected = once<[{ url: string }]>(server, 'connection');
    await rawRequest(port, upgradeRequest(port, { path: `http://127.0.0.1:${port}/chat?x=1` }));
    const [ws] = await connected;
    expect(ws.url).toBe(`http://127.0.0.1:${port}/chat?x=1`);
  });
});

describe('no body on the upgrade request', () => {
  it('Content-Length other than 0 is refused with 400, and no body byte is read as a frame; 0 is fine', async () => {
    const { port, server } = await startEchoServer(defer);
    let connections = 0;
    server.on('connection', () => connections++);
    const res = await rawRequest(port, upgradeRequest(port, { headers: { 'Content-Length': '5' } }) + 'hello');
    expect(res.status).toBe(400);
    expect(res.closedByServer).toBe(true);
    expect(connections).toBe(0);
    expect((await rawRequest(port, upgradeRequest(port, { headers: { 'Content-Length': '0' } }))).status).toBe(101);
  });

  it('any Transfer-Encoding is refused with 400', async () => {
    const { port } = await startEchoServer(defer);
    const res = await rawRequest(port, upgradeRequest(port, { headers: { 'Transfer-Encoding': 'chunked' } }) + '5\r\nhello\r\n0\r\n\r\n');
    expect(res.status).toBe(400);
  });
});

describe('refusal headers from hooks cannot inject header lines', () => {
  // Decision: an unsafe status or header in a refusal turns it into a plain 500 without the app's
  // headers, and 'upgradeError' reports it (see buildErrorResponse).
  const bad: Array<[string, Record<string, string>]> = [
    ['CR LF in a value', { 'X-Reason': 'a\r\nSet-Cookie: session=stolen' }],
    ['bare LF in a value', { 'X-Reason': 'a\nSet-Cookie: session=stolen' }],
    ['NUL in a value', { 'X-Reason': 'a\0b' }],
    ['CR LF in a name', { 'X-A\r\nSet-Cookie': 'session=stolen' }],
    ['a name that is not a token', { 'X Reason': 'a' }],
    ['a framing header', { 'Content-Length': '0' }],
  ];
  for (const [what, headers] of bad) {
    it(`verifyClient callback headers with ${what} → 500, no injected line`, async () => {
      const { port, server } = await startEchoServer(defer, { verifyClient: (_info, cb) => cb(false, 401, 'no', headers) });
      const reported = once<[Error]>(server, 'upgradeError');
      const res = await rawRequest(port, upgradeRequest(port));
      expect(res.status).toBe(500);
      expect(res.header('set-cookie')).toBeUndefined();
      expect(res.head).not.toContain('X-');
      expect(res.closedByServer).toBe(true);
      expect((await reported)[0].message).toMatch(/header/i);
    });
  }

  it('a verifyClient status outside 400–599 → 500; valid status and headers are sent as given', async () => {
    const wrong = await startEchoServer(defer, { verifyClient: (_info, cb) => cb(false, 200, 'fine?') });
    wrong.server.on('upgradeError', () => {});
    expect((await rawRequest(wrong.port, upgradeRequest(wrong.port))).status).toBe(500);
    const { port } = await startEchoServer(defer, { verifyClient: (_info, cb) => cb(false, 401, 'no', { 'WWW-Authenticate': 'Bearer realm="chat"' }) });
    const res = await rawRequest(port, upgradeRequest(port));
    expect(res.status).toBe(401);
    expect(res.header('www-authenticate')).toBe('Bearer realm="chat"');
  });

  it("authenticate errors' headers are sent when valid, and a 500 when they would inject", async () => {
    const refuseWith = (headers: Record<string, string>) => () => {
      throw Object.assign(new Error('token expired'), { status: 401, headers });
    };
    const good = await startEchoServer(defer, { authenticate: refuseWith({ 'WWW-Authenticate': 'Bearer error="invalid_token"' }) });
    const ok = await rawRequest(good.port, upgradeRequest(good.port));
    expect(ok.status).toBe(401);
    expect(ok.header('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(ok.body).toBe('token expired');

    const evil = await startEchoServer(defer, { authenticate: refuseWith({ 'WWW-Authenticate': 'Bearer\r\nSet-Cookie: a=b' }) });
    evil.server.on('upgradeError', () => {});
    const res = await rawRequest(evil.port, upgradeRequest(evil.port));
    expect(res.status).toBe(500);
    expect(res.header('set-cookie')).toBeUndefined();
  });
});

describe('handleProtocols answers that cannot go into a header line', () => {
  it('a non-token subprotocol → 500 and upgradeError, no injected line; a throw → the same', async () => {
    const evil = await startEchoServer(defer, { handleProtocols: () => 'chat\r\nSet-Cookie: session=stolen' });
    const reported = once<[Error]>(evil.server, 'upgradeError');
    const res = await rawRequest(evil.port, upgradeRequest(evil.port, { headers: { 'Sec-WebSocket-Protocol': 'chat' } }));
    expect(res.status).toBe(500);
    expect(res.header('set-cookie')).toBeUndefined();
    expect((await reported)[0].message).toMatch(/token/);

    const throwing = await startEchoServer(defer, {
      handleProtocols: () => {
        throw new Error('chooser broke');
      },
    });
    const thrown = once<[Error]>(throwing.server, 'upgradeError');
    expect((await rawRequest(throwing.port, upgradeRequest(throwing.port, { headers: { 'Sec-WebSocket-Protocol': 'chat' } }))).status).toBe(500);
    expect((await thrown)[0].message).toBe('chooser broke');
  });
});
