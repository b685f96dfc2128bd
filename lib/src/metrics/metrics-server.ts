/**
 * A model worker's own HTTP port (WORKER_METRICS_PORT): `GET /metrics` for Prometheus, admin as the
 * api's is (ADMIN_TOKEN, or loopback only), and `GET /healthz` for a liveness probe. Workers have no
 * other HTTP surface, so this is plain node:http, with small bounds: it is not meant for the public.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ADMIN_REALM, adminCheck } from '../admin-auth.ts';
import { ERRORS, type ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { exposition, type MetricsRegistry } from './prometheus.ts';

export interface MetricsServerOptions {
  registry: MetricsRegistry;
  host: string;
  port: number;
  adminToken: string | undefined;
  log: Logger;
}

export interface MetricsServer {
  /** The port it listens on (the given one, or the one the system chose for 0 in tests). */
  port: number;
  close(): Promise<void>;
}

/** Scrapers and probes need few connections; more are closed at once. */
const MAX_CONNECTIONS = 32;
/** Slow or stalled clients are cut: headers within HEADERS_MS, the whole request within REQUEST_MS. */
export const HEADERS_MS = 5000;
const REQUEST_MS = 10_000;

function sendError(res: ServerResponse, code: ErrorCode, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ success: false, error: { code, message: ERRORS[code].message } });
  res.writeHead(ERRORS[code].status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(body);
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const isAdmin = adminCheck(opts.adminToken);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/healthz') return sendError(res, 'NOT_FOUND');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 'METHOD_NOT_ALLOWED', { allow: 'GET' });
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end('{"status":"ok"}');
      return;
    }
    const refusal = isAdmin(req.headers.authorization, req.socket.remoteAddress);
    if (refusal) return sendError(res, refusal, refusal === 'ADMIN_TOKEN_REQUIRED' ? { 'www-authenticate': ADMIN_REALM } : {});
    const { contentType, text } = await exposition(opts.registry);
    res.writeHead(200, { 'content-type': contentType }).end(text);
  };
  // Node checks those limits every connectionsCheckingInterval (30 s by default, so a stalled client
  // held a connection for up to 35 s): once a second here, as on the api.
  const server = createServer({ requestTimeout: REQUEST_MS, headersTimeout: HEADERS_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.log.error({ err }, 'metrics request failed');
      if (!res.headersSent) sendError(res, 'INTERNAL');
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.log.error({ err: err.message }, 'metrics server error'));
  const port = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
