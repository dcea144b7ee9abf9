// send(Blob) and ping(Blob) keep call order: a close() (or a ping) called after a Blob send waits
// for the Blob to be read, so nothing sent before close() is lost; calls after close() are refused.
import { describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { useCleanup } from '../helpers/cleanup.js';
import { OP, RawServer } from '../helpers/raw.js';
import { closed, once, waitFor } from '../helpers/wait.js';

const defer = useCleanup();

async function openTo(raw: RawServer): Promise<WebSocket> {
  const ws = new WebSocket(raw.url, { perMessageDeflate: false });
  defer(() => ws.terminate());
  await once(ws, 'open');
  return ws;
}

describe('Blob sends and close()', () => {
  it('send(Blob), send(Blob), close(): both messages go out, in order, before the close frame', async () => {
    const raw = await RawServer.start(defer);
    const ws = await openTo(raw);
    ws.send(new Blob(['foo']));
    ws.send(new Blob(['bar']));
    ws.close(1000);
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    await waitFor(() => raw.frames.some((f) => f.opcode === OP.close));
    expect(raw.frames.map((f) => [f.opcode, f.payload.subarray(0, 3).toString()])).toEqual([
      [OP.binary, 'foo'],
      [OP.binary, 'bar'],
      [OP.close, Buffer.from([0x03, 0xe8]).toString()],
    ]);
  });

  it('a send after close() is refused at once, even with Blobs still being read', async () => {
    const raw = await RawServer.start(defer);
    const ws = await openTo(raw);
    ws.send(new Blob(['first']));
    ws.close();
    const refused = await new Promise<Error | null | undefined>((resolve) => ws.send(new Blob(['late']), resolve));
    expect(refused?.message).toMatch(/readyState 2 \(CLOSING\)/);
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(4);
    await waitFor(() => raw.frames.some((f) => f.opcode === OP.close));
    expect(raw.frames.filter((f) => f.opcode === OP.binary).map((f) => f.payload.toString())).toEqual(['first']);
  });
});

describe('ping(Blob)', () => {
  it('sends the Blob as the ping payload, after the messages sent before it', async () => {
    const raw = await RawServer.start(defer);
    const ws = await openTo(raw);
    ws.send(new Blob(['message']));
    ws.ping(new Blob(['ping data']));
    ws.send('after');
    await waitFor(() => raw.frames.length === 3);
    expect(raw.frames.map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [OP.binary, 'message'],
      [OP.ping, 'ping data'],
      [OP.text, 'after'],
    ]);
  });

  it('refuses a Blob over 125 bytes with a RangeError, and counts one sent after close in bufferedAmount', async () => {
    const raw = await RawServer.start(defer);
    const ws = await openTo(raw);
    expect(() => ws.ping(new Blob(['x'.repeat(126)]))).toThrow(RangeError);
    const done = closed(ws);
    ws.terminate();
    await done;
    const before = ws.bufferedAmount;
    ws.ping(new Blob(['hi']));
    expect(ws.bufferedAmount).toBe(before + 2);
  });
});

describe('a Blob that cannot be read', () => {
  it("fails the connection: the callback and 'error' get the reason, 'close' is 1006, nothing after it is sent", async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const file = path.join(os.tmpdir(), `rfc6455-blob-${process.pid}-${Date.now()}.txt`);
    fs.writeFileSync(file, 'x'.repeat(64));
    defer(() => fs.rmSync(file, { force: true }));
    const blob = await fs.openAsBlob(file);
    // A Blob backed by a file is unreadable once the file changed after it was made.
    fs.writeFileSync(file, 'y'.repeat(32));
    const raw = await RawServer.start(defer);
    const ws = await openTo(raw);
    const errors: string[] = [];
    ws.on('error', (error) => errors.push(error.name));
    const sent = new Promise<Error | null | undefined>((resolve) => ws.send(blob, resolve));
    ws.send('after the blob');
    const done = closed(ws);
    expect((await sent)?.name).toBe('NotReadableError');
    expect((await done).code).toBe(1006);
    expect(errors).toEqual(['NotReadableError']);
    await raw.peers[0].closed;
    expect(raw.frames.filter((f) => f.opcode === OP.text)).toEqual([]);
  });

  it("once the connection has closed, only the callback hears of it: no 'error' after 'close'", async () => {
    // A Blob whose read fails when the test says so: after 'close'.
    let fail!: (error: Error) => void;
    class SlowBlob extends Blob {
      override arrayBuffer(): Promise<ArrayBuffer> {
        return new Promise((_, reject) => (fail = reject));
      }
    }
    const raw = await RawServer.start(defer);
    const ws = await openTo(raw);
    const errors: Error[] = [];
    ws.on('error', (error) => errors.push(error));
    const sent = new Promise<Error | null | undefined>((resolve) => ws.send(new SlowBlob(['x'.repeat(64)]), resolve));
    const done = closed(ws);
    raw.peers[0].socket.destroy();
    await done;
    fail(new DOMException('The blob could not be read', 'NotReadableError'));
    expect((await sent)?.name).toBe('NotReadableError');
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([]);
  });
});
