/**
 * A lean HTTP client for load generation, on node:http with keep-alive.
 *
 * Why not fetch + FormData: on a 2-core machine the load generator competes with the system it
 * measures. Re-encoding a 3.5 MB multipart body per request costs the client real CPU, so multipart
 * bodies are built once per image (`multipartBody`) and only the prebuilt Buffers are written (a
 * body may be several chunks: the bench's distinct uploads add a comment without copying the image).
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';

/** What one request gave: status 0 means no HTTP answer (see `error`). */
export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Network-level failure: ECONNREFUSED, ECONNRESET, client timeout… */
  error?: string;
}

export interface RequestOptions {
  /** One buffer, or chunks written in order. */
  body?: Buffer | Buffer[];
  headers?: Record<string, string>;
  /** Hard client-side bound: the request is destroyed after this many ms (status 0, error "client timeout"). */
  timeoutMs: number;
}

/** A prebuilt multipart/form-data body and its Content-Type (with boundary). */
export interface MultipartBody {
  body: Buffer;
  contentType: string;
  /** What goes before and after the file's bytes, to send other bytes in the same form. */
  head: Buffer;
  tail: Buffer;
}

/** Builds a multipart/form-data body once; `file` goes last, as browsers send it. */
export function multipartBody(
  fields: Record<string, string>,
  file?: { field: string; filename: string; contentType: string; data: Buffer },
): MultipartBody {
  const boundary = `----icls-bench-${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n`,
      ),
    );
  }
  const head = Buffer.concat(parts);
  const tail = Buffer.from(`${file ? '\r\n' : ''}--${boundary}--\r\n`);
  const body = Buffer.concat(file ? [head, file.data, tail] : [head, tail]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}`, head, tail };
}

/** One keep-alive connection pool to one base URL. */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  readonly base: URL;

  constructor(baseUrl: string) {
    this.base = new URL(baseUrl);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new Error(`target must be an http:// or https:// URL, got "${baseUrl}"`);
    }
    this.transport = this.base.protocol === 'https:' ? https : http;
    // No socket cap: an open loop must be able to have every outstanding request on the wire.
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });
  }

  /** Sends one request and reads the whole answer. Never rejects: failures come back as status 0. */
  request(method: string, path: string, opts: RequestOptions): Promise<HttpResult> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: HttpResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const headers: Record<string, string> = { ...opts.headers };
      const chunks = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
      if (opts.body) headers['content-length'] = String(chunks.reduce((n, c) => n + c.length, 0));
      const req = this.transport.request(
        new URL(path, this.base),
        { method, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => finish({ status: 0, headers: {}, body: '', error: (err as NodeJS.ErrnoException).code ?? err.message }));
        },
      );
      const timer = setTimeout(() => {
        finish({ status: 0, headers: {}, body: '', error: 'client timeout' });
        req.destroy();
      }, opts.timeoutMs);
      req.on('error', (err) => finish({ status: 0, headers: {}, body: '', error: (err as NodeJS.ErrnoException).code ?? err.message }));
      // Corked: the chunks leave in one write (one TCP segment train), not one per chunk.
      req.cork();
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.agent.destroy();
  }
}

/** Anything that sends a request as HttpClient does (several api replicas behind one interface). */
export interface RequestSender {
  request(method: string, path: string, opts: RequestOptions): Promise<HttpResult>;
  close(): void;
}

/** Sends each request to the next of several base URLs in turn, as a round-robin load balancer would. */
export class RoundRobinClient implements RequestSender {
  private readonly clients: HttpClient[];
  private next = 0;

  constructor(urls: string[]) {
    if (urls.length === 0) throw new Error('a round-robin client needs at least one URL');
    this.clients = urls.map((u) => new HttpClient(u));
  }

  request(method: string, path: string, opts: RequestOptions): Promise<HttpResult> {
    const client = this.clients[this.next++ % this.clients.length]!;
    return client.request(method, path, opts);
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
