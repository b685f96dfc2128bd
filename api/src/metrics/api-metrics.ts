/**
 * The api's own metrics: HTTP requests by route, status and error code with their latency, requests
 * in flight, refusals by reason, and uploads (sizes, bytes held in memory). Queue depth is read from
 * Redis at scrape time (queue-metrics.ts).
 */
import { Counter, Gauge, Histogram, PREFIX, SECONDS_BUCKETS, type MetricsRegistry } from '@icls/lib/metrics/prometheus';
import type { MemoryBudget } from '../upload/memory-budget.ts';
import type { RemovalReason, RetentionObserver, SweepResult } from '../upload/upload-retention.ts';

/**
 * Answers that turn work away because of a limit or overload: too slow (408), too large (413, 414,
 * 431), too many (429), not now (503), too late (504). Their code is the refusal's reason.
 */
const REFUSAL_STATUSES = new Set([408, 413, 414, 429, 431, 503, 504]);

/** Upload sizes from 16 KiB to 32 MiB (MAX_UPLOAD_BYTES defaults to 20 MiB). */
const UPLOAD_BUCKETS = [16, 64, 256, 1024, 4096, 16384, 32768].map((kib) => kib * 1024);

export type RequestLabels = 'method' | 'route' | 'status' | 'error_code';

export class ApiMetrics implements RetentionObserver {
  readonly requests: Counter<RequestLabels>;
  readonly duration: Histogram<'method' | 'route'>;
  readonly inFlight: Gauge;
  readonly refusals: Counter<'reason'>;
  readonly uploadSize: Histogram;
  private readonly uploadDirBytes: Gauge;
  private readonly uploadsRemoved: Counter<'reason'>;

  constructor(registry: MetricsRegistry, uploadMemory: MemoryBudget) {
    const registers = [registry];
    this.requests = new Counter({
      name: `${PREFIX}http_requests_total`,
      help: 'HTTP requests answered, by method, route (the pattern, "unmatched" for 404s), status and error code ("" on success).',
      labelNames: ['method', 'route', 'status', 'error_code'],
      registers,
    });
    this.duration = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'Time from a request\'s arrival to the end of its answer, by method and route.',
      labelNames: ['method', 'route'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({ name: `${PREFIX}http_requests_in_flight`, help: 'Requests being handled now (aborted ones leave at once).', registers });
    this.refusals = new Counter({
      name: `${PREFIX}http_refusals_total`,
      help: 'Requests or connections turned away by a limit or overload (408, 413, 414, 429, 431, 503, 504, or the connection limit), by reason: the error code, or CONNECTION_LIMIT.',
      labelNames: ['reason'],
      registers,
    });
    this.uploadSize = new Histogram({
      name: `${PREFIX}upload_size_bytes`,
      help: 'Sizes of the uploads stored (checked images).',
      buckets: UPLOAD_BUCKETS,
      registers,
    });
    new Gauge({
      name: `${PREFIX}upload_memory_bytes`,
      help: 'Upload bytes held in memory now, across all requests (beyond UPLOAD_MEMORY_BYTES uploads stream to temporary files).',
      registers,
      collect() {
        this.set(uploadMemory.inUse);
      },
    });
    new Gauge({
      name: `${PREFIX}upload_memory_limit_bytes`,
      help: 'UPLOAD_MEMORY_BYTES: upload bytes allowed in memory at once.',
      registers,
      collect() {
        this.set(Number.isFinite(uploadMemory.limit) ? uploadMemory.limit : 0);
      },
    });
    this.uploadDirBytes = new Gauge({
      name: `${PREFIX}upload_dir_bytes`,
      help: 'Bytes of the stored uploads in UPLOAD_DIR: counted at each sweep, plus what this api stored since (see UPLOAD_DIR_MAX_BYTES).',
      registers,
    });
    this.uploadsRemoved = new Counter({
      name: `${PREFIX}uploads_removed_total`,
      help: 'Files the upload sweeper removed, by reason: age (UPLOAD_KEEP_HOURS), size (UPLOAD_DIR_MAX_BYTES), leftover (a temporary file left by a crash).',
      labelNames: ['reason'],
      registers,
    });
    // Every reason from the start at 0, so rate() and alerts see the series before the first removal.
    for (const reason of ['age', 'size', 'leftover'] satisfies RemovalReason[]) this.uploadsRemoved.inc({ reason }, 0);
  }

  swept(result: SweepResult): void {
    this.uploadDirBytes.set(result.bytes);
    for (const [reason, n] of Object.entries(result.removed) as [RemovalReason, number][]) if (n > 0) this.uploadsRemoved.inc({ reason }, n);
  }

  grew(bytes: number): void {
    this.uploadDirBytes.set(bytes);
  }

  /** One answered (or abandoned) request. `errorCode`: the error table's code it answered with. */
  answered(labels: { method: string; route: string; status: number; errorCode?: string }, seconds: number): void {
    const code = labels.errorCode ?? '';
    this.requests.inc({ method: labels.method, route: labels.route, status: labels.status, error_code: code });
    this.duration.observe({ method: labels.method, route: labels.route }, seconds);
    if (code && REFUSAL_STATUSES.has(labels.status)) this.refusals.inc({ reason: code });
  }

  /** A connection closed at once because MAX_CONNECTIONS were open. */
  connectionRefused(): void {
    this.refusals.inc({ reason: 'CONNECTION_LIMIT' });
  }
}
