// The Node client's handshake as driven by ClientHandshake: what it refuses before sending.
import { describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';

describe('client subprotocols', () => {
  it('a subprotocol that is not a token throws SyntaxError at construction, before any request', () => {
    // Port 1 on loopback: nothing listens, so a request sent would fail later, not throw here.
    for (const protocol of ['a b', 'chat\r\nX-Injected: 1', '', 'a,b']) {
      expect(() => new WebSocket('ws://127.0.0.1:1/', [protocol]), JSON.stringify(protocol)).toThrow(SyntaxError);
    }
  });
});
