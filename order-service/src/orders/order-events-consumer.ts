import { onEvents, type EventHandler } from '@delivery/common';
import { applyInventoryResults } from './apply-inventory-result.js';
import type { OrdersDeps } from './orders-deps.js';
import { recordDispatches } from './record-dispatch.js';

/**
 * The events order-service consumes, a fetched batch at a time (one transaction per batch; the
 * loop retries a failed batch one event at a time). The loop has already validated each envelope.
 */
export function orderEventHandlers(deps: OrdersDeps): EventHandler[] {
  const log = deps.logger.child({ module: 'order-events' });
  const scoped = { ...deps, logger: log };
  return [
    onEvents('order.inventory.updated', (events) => applyInventoryResults(scoped, events)),
    onEvents('order.dispatched', (events) => recordDispatches(scoped, events)),
  ];
}
