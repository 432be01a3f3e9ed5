import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueStat } from '../jobs/index.js';

export interface MetricsOptions {
  queueStats: () => Promise<QueueStat[]>;
  now: () => Date;
  /** The tracking hit writer's counters (buffered, written, dropped). */
  trackingStats?:
    | (() => { buffered: number; written: number; dropped: number; requests: Record<string, number> })
    | undefined;
}

/**
 * Prometheus metrics on a registry owned by this app (no global default
 * registry, so several apps in one test process do not collide). Labels carry
 * route patterns, never URLs, so no personal data reaches the metrics.
 */
export const metricsPlugin = fp<MetricsOptions>(async (app: FastifyInstance, options) => {
  const registry = new Registry();
  const requests = new Counter({
    name: 'herald_http_requests_total',
    help: 'HTTP requests by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'HTTP request latency by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const depth = new Gauge({
    name: 'herald_jobs_due',
    help: 'Jobs that are due, by task and status (queued or running).',
    labelNames: ['task', 'status'] as const,
    registers: [registry],
  });
  const age = new Gauge({
    name: 'herald_jobs_oldest_due_age_seconds',
    help: 'Age of the oldest due job since its run_at, by task and status.',
    labelNames: ['task', 'status'] as const,
    registers: [registry],
  });

  const trackingStats = options.trackingStats;
  if (trackingStats) {
    new Gauge({
      name: 'herald_tracking_hits_buffered',
      help: 'Open and click hits waiting in memory to be written.',
      registers: [registry],
      collect() {
        this.set(trackingStats().buffered);
      },
    });
    new Counter({
      name: 'herald_tracking_hits_written_total',
      help: 'Open and click hits written to the database by this process.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(trackingStats().written);
      },
    });
    new Counter({
      name: 'herald_tracking_requests_total',
      help: 'Open pixel and click redirect requests by kind and outcome (valid, invalid token, rate limited, redirect, honeypot).',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, count] of Object.entries(trackingStats().requests)) {
          const [kind = '', outcome = ''] = name.split('_');
          this.inc({ kind, outcome }, count);
        }
      },
    });
    new Counter({
      name: 'herald_tracking_hits_dropped_total',
      help: 'Open and click hits dropped because the in-memory buffer was full (database unavailable).',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(trackingStats().dropped);
      },
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  app.decorate('metricsText', async () => {
    depth.reset();
    age.reset();
    const now = options.now().getTime();
    for (const stat of await options.queueStats()) {
      depth.set({ task: stat.task, status: stat.status }, stat.count);
      if (stat.oldestRunAt) {
        age.set(
          { task: stat.task, status: stat.status },
          Math.max(0, (now - stat.oldestRunAt.getTime()) / 1000),
        );
      }
    }
    return { contentType: registry.contentType, body: await registry.metrics() };
  });
});

declare module 'fastify' {
  interface FastifyInstance {
    metricsText(): Promise<{ contentType: string; body: string }>;
  }
}
