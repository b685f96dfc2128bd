/**
 * HTTP at the socket level, for what fetch cannot send: a body that stalls, headers that never end,
 * a Content-Length that lies, a request cut mid-body. Always resolves by its deadline.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  /** undefined when no response came before the connection closed or the deadline. */
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection. */
  closed: boolean;
  /** From the first byte sent to the response (or close, or deadline). */
  ms: number;
}

export interface RawRequest {
  port: number;
  /** Request line and headers, without the blank line that ends them (added unless `unterminated`). */
  head: string;
  body?: Buffer;
  /** Leave the headers unfinished (no blank line): a slow-header client. */
  unterminated?: boolean;
  /** Close the connection right after sending, without waiting for an answer. */
  abort?: boolean;
  deadlineMs: number;
}

export function rawRequest(req: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(req.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parse(data), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), req.deadlineMs);
    socket.on('connect', () => {
      socket.write(req.head + (req.unterminated ? '\r\n' : '\r\n\r\n'));
      if (req.body) socket.write(req.body);
      if (req.abort) setTimeout(() => finish(false), 20);
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (complete(data)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

function complete(data: Buffer): boolean {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(data.subarray(0, end).toString('latin1'));
  return length !== null && data.length >= end + 4 + Number(length[1]);
}

function parse(data: Buffer): Pick<RawAnswer, 'status' | 'headers' | 'body'> {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return { headers: {}, body: '' };
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: data.subarray(end + 4).toString('utf8') };
}

/** A multipart body with the given parts, and its Content-Type. */
export function multipartBody(parts: { name: string; filename?: string; value: Buffer | string }[], boundary = 'hostileBoundary42'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`), Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
