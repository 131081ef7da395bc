import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '@delivery/common';
import { countWaitingByCity } from './waiting-orders-repository.js';

export interface DispatchMetrics {
  allocations: Counter<'city'>;
  /** Delivered or cancelled orders taken off a queue or out of a vehicle. */
  finished: Counter<'outcome'>;
}

/** Dispatcher metrics on the service's registry; the waiting gauge is read from the database on scrape. */
export function createDispatchMetrics(registry: Registry, db: Db): DispatchMetrics {
  new Gauge({
    name: 'dispatcher_waiting_orders',
    help: 'Orders waiting for a vehicle, by city (normalized)',
    labelNames: ['city'],
    registers: [registry],
    async collect() {
      // The database down must not take /metrics down with it: keep the last counts meanwhile.
      const rows = await countWaitingByCity(db).catch(() => undefined);
      if (!rows) return;
      // A city whose queue emptied must drop to nothing, not keep its last count.
      this.reset();
      for (const { city_key, n } of rows) this.set({ city: city_key }, n);
    },
  });
  return {
    allocations: new Counter({
      name: 'dispatcher_allocations_total',
      help: 'Vehicles allocated to orders, by city (normalized)',
      labelNames: ['city'],
      registers: [registry],
    }),
    finished: new Counter({
      name: 'dispatcher_finished_orders_total',
      help: 'Delivered or cancelled orders taken off a queue or out of a vehicle, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
