import net from 'node:net';

/** A RESP2 reply: simple and bulk strings, integers, nil and arrays. Error replies reject. */
export type RespReply = string | number | null | RespReply[];

/** An error reply (`-ERR ...`, `-NOPERM ...`) from the server: the promise rejects with it. */
class RespErrorReply extends Error {
  override get name(): string {
    return 'RespErrorReply';
  }
}

interface Parsed {
  readonly value: RespReply | RespErrorReply;
  readonly next: number;
}

/** Parses one reply at `offset`, or returns `undefined` when the buffer does not hold all of it yet. */
function parseReply(buffer: Buffer, offset: number): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespErrorReply(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { value: null, next: afterLine };
      const items: RespReply[] = [];
      let next = afterLine;
      for (let index = 0; index < count; index++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        if (item.value instanceof RespErrorReply) throw item.value;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** Where and as whom {@link sendCommand} connects. */
export interface RespEndpoint {
  readonly host: string;
  readonly port: number;
  /** Sent as `AUTH [username] password` before the command, when set. */
  readonly password?: string | undefined;
  readonly username?: string | undefined;
}

/**
 * Sends one command on a fresh connection and resolves with its reply: the harness's own admin
 * channel, independent of the client under test (no reconnects, no offline queue, no retries).
 * Rejects on an error reply, a closed connection, or after `timeoutMs` (a paused server never
 * answers).
 *
 * @example
 * ```ts
 * const pong = await sendCommand({ host: '127.0.0.1', port: 7001 }, ['PING']);
 * ```
 */
export async function sendCommand(
  endpoint: RespEndpoint,
  args: readonly string[],
  timeoutMs = 5_000,
): Promise<RespReply> {
  const commands: (readonly string[])[] = [];
  if (endpoint.password !== undefined) {
    commands.push(
      endpoint.username === undefined
        ? ['AUTH', endpoint.password]
        : ['AUTH', endpoint.username, endpoint.password],
    );
  }
  commands.push(args);

  return new Promise<RespReply>((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    let buffer = Buffer.alloc(0);
    let offset = 0;
    const replies: RespReply[] = [];
    const finish = (error: Error | undefined, reply?: RespReply) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? null);
    };
    const timer = setTimeout(() => {
      finish(
        new Error(`${args[0] ?? ''} to ${endpoint.host}:${endpoint.port}: no reply within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(commands.map(encodeCommand).join(''));
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        for (;;) {
          const parsed = parseReply(buffer, offset);
          if (parsed === undefined) return;
          offset = parsed.next;
          if (parsed.value instanceof RespErrorReply) {
            finish(parsed.value);
            return;
          }
          replies.push(parsed.value);
          if (replies.length === commands.length) {
            finish(undefined, replies.at(-1));
            return;
          }
        }
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on('error', (error) => {
      finish(error);
    });
    socket.on('close', () => {
      finish(new Error(`connection to ${endpoint.host}:${endpoint.port} closed`));
    });
  });
}
