import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per service process. Metrics every service shares are created here; a service
 * adds its own (allocations, waiting orders) to the same registry.
 */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  eventsConsumed: Counter<'topic' | 'outcome'>;
  eventsPublished: Counter<'topic'>;
}

export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsConsumed: new Counter({
      name: 'events_consumed_total',
      help: 'Kafka messages consumed, by topic and outcome (ok, dlq, retried)',
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'events_published_total',
      help: 'Events published from the outbox, by topic',
      labelNames: ['topic'],
      registers: [registry],
    }),
  };
}

/**
 * A service's own counter on its registry, registered by whoever asks first: feature modules
 * built more than once per process (tests, several apps on one runtime) share it.
 */
export function serviceCounter<L extends string = never>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  const existing = registry.getSingleMetric(name) as Counter<L> | undefined;
  return existing ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
}
