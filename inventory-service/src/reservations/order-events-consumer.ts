import { onEvent, type EventHandler } from '@delivery/common';
import { reserveStock, type ReservationDeps } from './reserve-stock.js';

/** The events inventory-service consumes; the consumer loop has already validated each envelope. */
export function inventoryEventHandlers(deps: ReservationDeps): EventHandler[] {
  const scoped = { ...deps, logger: deps.logger.child({ module: 'reservations' }) };
  return [onEvent('order.created', (event) => reserveStock(scoped, event))];
}
