/** One received message, as `for await (const message of ws)` yields it. */
export class Message {
  constructor(
    readonly data: Buffer,
    readonly isBinary: boolean,
  ) {}

  text(): string {
    return this.data.toString('utf8');
  }

  json(): unknown {
    return JSON.parse(this.text());
  }
}
