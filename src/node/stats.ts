/** Counters a server keeps for `server.stats()`; every field is a plain number to export as is. */
export class ServerStats {
  connections = 0;
  handshakesAccepted = 0;
  /** Refused handshakes by the HTTP status they were answered with. */
  readonly handshakesRefused: Record<number, number> = {};
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Connections ended, by the close code reported to the application. */
  readonly closeCodes: Record<number, number> = {};

  refused(status: number): void {
    this.handshakesRefused[status] = (this.handshakesRefused[status] ?? 0) + 1;
  }

  closed(code: number): void {
    this.connections--;
    this.closeCodes[code] = (this.closeCodes[code] ?? 0) + 1;
  }

  snapshot(): StatsSnapshot {
    return {
      connections: this.connections,
      handshakesAccepted: this.handshakesAccepted,
      handshakesRefused: { ...this.handshakesRefused },
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      closeCodes: { ...this.closeCodes },
    };
  }
}

export interface StatsSnapshot {
  connections: number;
  handshakesAccepted: number;
  handshakesRefused: Record<number, number>;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  closeCodes: Record<number, number>;
}

/** Prometheus text exposition of a snapshot, for a /metrics endpoint. */
export function toPrometheus(stats: StatsSnapshot, prefix = 'websocket'): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: Array<[labels: string, value: number]>) => {
    lines.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${prefix}_${name}${labels} ${value}`);
  };
  metric('connections', 'gauge', 'Open WebSocket connections.', [['', stats.connections]]);
  metric('handshakes_accepted_total', 'counter', 'Opening handshakes accepted.', [['', stats.handshakesAccepted]]);
  metric(
    'handshakes_refused_total',
    'counter',
    'Opening handshakes refused, by HTTP status.',
    Object.entries(stats.handshakesRefused).map(([status, n]) => [`{status="${status}"}`, n]),
  );
  metric('messages_total', 'counter', 'Messages received and sent.', [
    ['{direction="in"}', stats.messagesIn],
    ['{direction="out"}', stats.messagesOut],
  ]);
  metric('message_bytes_total', 'counter', 'Message payload bytes received and sent.', [
    ['{direction="in"}', stats.bytesIn],
    ['{direction="out"}', stats.bytesOut],
  ]);
  metric(
    'closes_total',
    'counter',
    'Connections closed, by close code.',
    Object.entries(stats.closeCodes).map(([code, n]) => [`{code="${code}"}`, n]),
  );
  return lines.join('\n') + '\n';
}
