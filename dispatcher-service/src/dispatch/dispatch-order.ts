import type { OrderPlacedData } from '@delivery/common';
import { cityKey } from '../keys.js';
import { findAssignmentByOrder } from './assignments-repository.js';
import { serveWaitingOrders, type StopReason } from './allocate-vehicle.js';
import { ensureCityLock, lockCity } from './city-locks-repository.js';
import type { DispatchDeps } from './dispatch-deps.js';
import { insertWaitingOrder, isWaiting } from './waiting-orders-repository.js';

type Queued = 'queued' | 'waiting' | 'assigned';

/**
 * order.confirmed (DESIGN.md §6). The order joins the end of its city's queue, then the queue
 * is served oldest first: a new order never overtakes one that has waited longer, and the
 * allocation itself is the same code a release or a registration runs.
 */
export async function dispatchOrder(
  deps: DispatchDeps,
  order: OrderPlacedData,
  correlationId: string,
): Promise<void> {
  const key = cityKey(order.city);
  const queued = await queueOrder(deps, order, key, correlationId);
  if (queued === 'assigned') {
    deps.logger.debug(
      { orderId: order.orderId, orderNumber: order.orderNumber },
      'order has a vehicle already; event ignored',
    );
    return;
  }
  // Also after a redelivery of a waiting order: a previous attempt may have failed before serving.
  const { allocated, stoppedBecause } = await serveWaitingOrders(deps, key);
  if (queued === 'waiting' || allocated.some((a) => a.orderId === order.orderId)) return;
  // Another instance may have served it meanwhile; then that one logged the allocation.
  if (await isWaiting(deps.db, order.orderId)) logWaiting(deps, order, stoppedBecause);
}

/** Idempotent: an order with an assignment, or already waiting, is left as it is. */
async function queueOrder(
  deps: DispatchDeps,
  order: OrderPlacedData,
  key: string,
  correlationId: string,
): Promise<Queued> {
  await ensureCityLock(deps.db, key);
  // Under the city lock, so an allocation of a duplicate delivery cannot slip between the check and the insert.
  return deps.db.transaction(
    async (trx): Promise<Queued> => {
      await lockCity(trx, key);
      if (await findAssignmentByOrder(deps.db, order.orderId, trx)) return 'assigned';
      const row = {
        order_id: order.orderId,
        order_number: order.orderNumber,
        city: order.city.trim(),
        city_key: key,
        correlation_id: correlationId,
      };
      return (await insertWaitingOrder(deps.db, row, trx)) ? 'queued' : 'waiting';
    },
    { isolationLevel: 'read committed' },
  );
}

function logWaiting(deps: DispatchDeps, order: OrderPlacedData, reason: StopReason): void {
  const fields = { orderId: order.orderId, orderNumber: order.orderNumber, city: order.city };
  if (reason === 'no_vehicles')
    deps.logger.info(fields, `Cannot find vehicle for order ${order.orderNumber}`);
  if (reason === 'occupied') deps.logger.info(fields, 'All vehicles occupied');
}
