import { onEvents, type EventHandler, type ServiceRuntime } from '@delivery/common';
import { createCancellationMetrics } from './cancellation-metrics.js';
import { reserveStock } from './reserve-stock.js';
import { returnStock } from './return-stock.js';

/**
 * The events inventory-service consumes; the consumer loop has already validated each envelope.
 * Each is handled a fetched batch at a time: one transaction for the whole batch. The two
 * handlers may run side by side (different topics); they lock in the same order.
 */
export function inventoryEventHandlers(
  deps: Pick<ServiceRuntime, 'db' | 'relay' | 'logger' | 'metrics'>,
): EventHandler[] {
  const scoped = { ...deps, logger: deps.logger.child({ module: 'reservations' }) };
  const cancellations = { ...scoped, metrics: createCancellationMetrics(deps.metrics.registry) };
  return [
    onEvents('order.created', (events) => reserveStock(scoped, events)),
    onEvents('order.cancelled', (events) => returnStock(cancellations, events)),
  ];
}
