// A client that sends a few messages and reads replies with `for await`:
// `npx tsx examples/client.ts ws://127.0.0.1:8080`.
import { connect } from '../src/index.js';

const ws = await connect(process.argv[2] ?? 'ws://127.0.0.1:8080');
ws.send('hello');
ws.send(Buffer.from([1, 2, 3]));

let received = 0;
for await (const message of ws) {
  console.log(message.isBinary ? message.data : message.text());
  if (++received === 2) ws.close(1000, 'done');
}
console.log('closed');
