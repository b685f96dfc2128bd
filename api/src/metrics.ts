/**
 * Prometheus metrics of the api, in its text format at `GET /metrics`, with no client library:
 * requests by route and status, a latency histogram per route, and requests in flight.
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';

const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

interface RouteStats {
  byStatus: Map<number, number>;
  buckets: number[];
  sumMs: number;
  count: number;
}

export class Metrics {
  private readonly routes = new Map<string, RouteStats>();
  private inFlight = 0;

  /**
   * Counts every request that matched a route (404s are grouped under one label). `/metrics` itself
   * is an admin route: `guard` runs first.
   */
  register(app: FastifyInstance, guard: onRequestHookHandler): void {
    app.addHook('onRequest', async (_request, reply) => {
      this.inFlight++;
      // 'close' comes once per response, sent or aborted; onResponse never runs for an aborted one.
      reply.raw.once('close', () => this.inFlight--);
    });
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.observe(`${request.method} ${route}`, reply.statusCode, reply.elapsedTime);
    });
    app.get('/metrics', { schema: { hide: true }, onRequest: guard }, async (_request, reply) =>
      reply.type('text/plain; version=0.0.4').send(this.render()),
    );
  }

  private observe(route: string, status: number, ms: number): void {
    let s = this.routes.get(route);
    if (!s) {
      s = { byStatus: new Map(), buckets: BUCKETS_MS.map(() => 0), sumMs: 0, count: 0 };
      this.routes.set(route, s);
    }
    s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    BUCKETS_MS.forEach((b, i) => {
      if (ms <= b) s.buckets[i]!++;
    });
    s.sumMs += ms;
    s.count++;
  }

  render(): string {
    const lines = [
      '# HELP icls_http_requests_total HTTP requests answered, by route and status.',
      '# TYPE icls_http_requests_total counter',
    ];
    const label = (route: string) => route.replace(/["\\\n]/g, '_');
    for (const [route, s] of this.routes) {
      for (const [status, n] of s.byStatus) lines.push(`icls_http_requests_total{route="${label(route)}",status="${status}"} ${n}`);
    }
    lines.push('# HELP icls_http_request_duration_ms Time from request to response, by route.', '# TYPE icls_http_request_duration_ms histogram');
    for (const [route, s] of this.routes) {
      BUCKETS_MS.forEach((b, i) => lines.push(`icls_http_request_duration_ms_bucket{route="${label(route)}",le="${b}"} ${s.buckets[i]}`));
      lines.push(`icls_http_request_duration_ms_bucket{route="${label(route)}",le="+Inf"} ${s.count}`);
      lines.push(`icls_http_request_duration_ms_sum{route="${label(route)}"} ${s.sumMs.toFixed(3)}`);
      lines.push(`icls_http_request_duration_ms_count{route="${label(route)}"} ${s.count}`);
    }
    lines.push('# HELP icls_http_requests_in_flight Requests being handled now.', '# TYPE icls_http_requests_in_flight gauge');
    lines.push(`icls_http_requests_in_flight ${this.inFlight}`);
    const mem = process.memoryUsage();
    lines.push('# HELP icls_process_resident_memory_bytes Resident memory of the api process.', '# TYPE icls_process_resident_memory_bytes gauge');
    lines.push(`icls_process_resident_memory_bytes ${mem.rss}`);
    return lines.join('\n') + '\n';
  }
}
