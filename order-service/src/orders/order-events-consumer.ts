import { onEvent, type EventHandler } from '@delivery/common';
import { applyInventoryResult } from './apply-inventory-result.js';
import type { OrdersDeps } from './orders-deps.js';
import { recordDispatch } from './record-dispatch.js';

/** The events order-service consumes; the consumer loop has already validated each envelope. */
export function orderEventHandlers(deps: OrdersDeps): EventHandler[] {
  const log = deps.logger.child({ module: 'order-events' });
  const scoped = { ...deps, logger: log };
  return [
    onEvent('order.inventory.updated', (event) => applyInventoryResult(scoped, event)),
    onEvent('order.dispatched', (event) => recordDispatch(scoped, event)),
  ];
}
