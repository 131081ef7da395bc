import { serviceCounter, type ServiceRuntime } from '@delivery/common';

/** What the orders feature needs from the process: passed in by main.ts, never imported. */
export type OrdersDeps = Pick<ServiceRuntime, 'db' | 'relay' | 'logger' | 'metrics'>;

export function cancellationsCounter(deps: Pick<OrdersDeps, 'metrics'>) {
  return serviceCounter(deps.metrics.registry, 'orders_cancelled_total', 'Orders cancelled');
}
