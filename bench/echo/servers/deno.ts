// Deno echo server (Deno.upgradeWebSocket). Usage: deno run -A --v8-flags=--expose-gc deno.ts PORT
// Same protocol as rfc6455.mjs; broadcast loops over the open sockets (Deno has no pub/sub).
declare const Deno: any;

const port = Number(Deno.args[0] ?? 9004);
const BROADCAST = new Uint8Array(64).fill(98);
const sockets = new Set<WebSocket>();
const gc = (globalThis as { gc?: () => void }).gc;

Deno.serve(
  { port, hostname: '127.0.0.1', onListen: () => console.log(`listening ${port}`) },
  (req: Request) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onerror = () => {};
    socket.onmessage = (event: MessageEvent) => {
      const data = event.data;
      if (typeof data !== 'string') return void socket.send(data);
      if (data === '!broadcast') {
        for (const s of sockets) s.send(BROADCAST);
      } else if (data === '!rss') {
        gc?.();
        gc?.();
        socket.send(`rss:${Deno.memoryUsage().rss}`);
      } else socket.send(data);
    };
    return response;
  },
);
