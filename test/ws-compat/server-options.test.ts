// WebSocketServer construction as JavaScript callers of ws do it.
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from '../../src/index.js';

describe('new WebSocketServer()', () => {
  it('without options says which option is missing (a TypeError), instead of failing on undefined', () => {
    const Server = WebSocketServer as unknown as new () => WebSocketServer;
    expect(() => new Server()).toThrow(/"port", "server" and "noServer"/);
  });
});
