import type { Knex } from 'knex';
import { Gauge } from 'prom-client';
import type { Metrics } from './metrics.js';

/** `outbox_backlog`: the rows not yet published, counted when /metrics is read. */
export function registerBacklogGauge(db: Knex, metrics: Metrics): void {
  new Gauge({
    name: 'outbox_backlog',
    help: 'Outbox rows not yet published',
    registers: [metrics.registry],
    async collect() {
      // A database that is down must not take /metrics down with it (/readyz says why): the
      // gauge keeps its last value until the count works again.
      const row = (await db('outbox')
        .whereNull('published_at')
        .count({ n: '*' })
        .first()
        .catch(() => 'unavailable' as const)) as { n: number } | undefined | 'unavailable';
      if (row !== 'unavailable') this.set(Number(row?.n ?? 0));
    },
  });
}
