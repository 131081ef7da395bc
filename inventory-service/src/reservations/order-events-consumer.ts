import { onEvents, type EventHandler } from '@delivery/common';
import { reserveStock, type ReservationDeps } from './reserve-stock.js';

/**
 * The events inventory-service consumes; the consumer loop has already validated each envelope.
 * order.created is handled a fetched batch at a time: one transaction for the whole batch.
 */
export function inventoryEventHandlers(deps: ReservationDeps): EventHandler[] {
  const scoped = { ...deps, logger: deps.logger.child({ module: 'reservations' }) };
  return [onEvents('order.created', (events) => reserveStock(scoped, events))];
}
