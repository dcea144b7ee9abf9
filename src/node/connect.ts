import type { ClientOptions } from './client.js';
import { WebSocket } from './websocket.js';

/** Opens a client connection; resolves once the handshake succeeded, rejects with why it did not. */
export function connect(address: string | URL, options: ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(address, options.protocols, options);
    const onError = (error: Error) => {
      ws.off('open', onOpen);
      reject(error);
    };
    const onOpen = () => {
      ws.off('error', onError);
      resolve(ws);
    };
    ws.once('error', onError);
    ws.once('open', onOpen);
  });
}
