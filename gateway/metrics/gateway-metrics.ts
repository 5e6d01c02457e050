import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { COLORS, type Color } from '../../core/types.js';
import { type CounterSeries, HotCounter, HotHistogram } from './hot-metrics.js';

/** '499' is nginx's "client closed request": the client left before the response was complete. */
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', '499'] as const;
const CLIENT_CLOSED = 5;

/** Index into STATUS_CLASSES for a status code; 499 has its own class so aborts never look like 4xx answers. */
function classIndex(status: number): number {
  if (status === 499) return CLIENT_CLOSED;
  return Math.min(Math.max(Math.floor(status / 100), 1), 5) - 1;
}

/** Request-duration buckets in seconds: sub-millisecond proxying up to slow upstreams. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type UpstreamErrorKind =
  | 'refused'
  | 'reset'
  | 'connect_timeout'
  | 'headers_timeout'
  | 'body_timeout'
  | 'breaker_open'
  | 'dns'
  | 'protocol'
  | 'other';

interface ServiceChildren {
  readonly requests: Record<Color, { inc(): void }[]>;
  readonly duration: Record<Color, { observe(v: number): void }>;
}

/**
 * The data plane's own metrics. Label children are bound once per service × colour × class, because
 * prom-client otherwise hashes the label set on every increment — that would be per-request work.
 */
export class GatewayMetrics {
  readonly registry: Registry;
  readonly #requests: HotCounter;
  readonly #duration: HotHistogram;
  readonly #upstreamErrors: Counter<'service' | 'color' | 'kind'>;
  readonly #rejections: Counter<'plane' | 'code'>;
  readonly #received: HotCounter;
  readonly #ended: CounterSeries[];
  readonly #refusedConnections: Counter<'reason'>;
  readonly breakerState: Gauge<'service' | 'color' | 'upstream'>;
  readonly weight: Gauge<'service' | 'color'>;
  readonly #children = new Map<string, ServiceChildren>();

  constructor(registry: Registry = new Registry(), { defaultMetrics = true } = {}) {
    this.registry = registry;
    if (defaultMetrics) collectDefaultMetrics({ register: registry });
    // The four series touched by every request are hot metrics (hot-metrics.ts): no label hashing.
    this.#requests = new HotCounter(
      'acgs_requests_total',
      'Proxied requests by service, colour and response status class',
      ['service', 'color', 'class'],
      registry,
    );
    this.#duration = new HotHistogram(
      'acgs_request_duration_seconds',
      'Time from request arrival to the end of the response, by service and colour',
      ['service', 'color'],
      DURATION_BUCKETS,
      registry,
    );
    this.#upstreamErrors = new Counter({
      name: 'acgs_upstream_errors_total',
      help: 'Failed upstream attempts by kind (refused, reset, timeouts, breaker_open, ...)',
      labelNames: ['service', 'color', 'kind'],
      registers: [registry],
    });
    this.#rejections = new Counter({
      name: 'acgs_gateway_responses_total',
      help: 'Answers the gateway made itself (not proxied), by plane (data, admin) and error code',
      labelNames: ['plane', 'code'],
      registers: [registry],
    });
    this.#received = new HotCounter(
      'acgs_http_requests_received_total',
      'Every request the data plane received (health checks and gateway-made answers included)',
      [],
      registry,
    );
    const ended = new HotCounter(
      'acgs_http_responses_total',
      'Every received request once it ended, by status class; 499 = the client left before the response was complete',
      ['class'],
      registry,
    );
    this.#ended = STATUS_CLASSES.map((cls) => ended.labels(cls));
    this.#refusedConnections = new Counter({
      name: 'acgs_connections_refused_total',
      help: 'Client connections closed at accept: max_connections or per_client cap reached',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.breakerState = new Gauge({
      name: 'acgs_circuit_breaker_state',
      help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open',
      labelNames: ['service', 'color', 'upstream'],
      registers: [registry],
    });
    this.weight = new Gauge({
      name: 'acgs_traffic_weight_percent',
      help: 'Share of users routed to each colour, 0..100',
      labelNames: ['service', 'color'],
      registers: [registry],
    });
  }

  /** Binds the label children of one service; call once per service at start. */
  bindService(service: string): void {
    const requests = {} as Record<Color, { inc(): void }[]>;
    const duration = {} as Record<Color, { observe(v: number): void }>;
    for (const color of COLORS) {
      requests[color] = STATUS_CLASSES.map((cls) => this.#requests.labels(service, color, cls));
      duration[color] = this.#duration.labels(service, color);
    }
    this.#children.set(service, { requests, duration });
  }

  observeRequest(service: string, color: Color, status: number, seconds: number): void {
    const children = this.#children.get(service);
    if (!children) return;
    children.requests[color][classIndex(status)]!.inc();
    children.duration[color].observe(seconds);
  }

  requestReceived(): void {
    this.#received.inc();
  }

  /** Once per received request, when it ended: its status, or 499 when the client left first. */
  requestEnded(status: number): void {
    this.#ended[classIndex(status)]!.inc();
  }

  connectionRefused(reason: 'max_connections' | 'per_client'): void {
    this.#refusedConnections.labels(reason).inc();
  }

  upstreamError(service: string, color: Color, kind: UpstreamErrorKind): void {
    this.#upstreamErrors.labels(service, color, kind).inc();
  }

  gatewayResponse(plane: 'data' | 'admin', code: string): void {
    this.#rejections.labels(plane, code).inc();
  }
}
