import { AppError, runWithCorrelationId } from '@delivery/common';
import type { DeliveriesInput } from './order-schemas.js';
import { MANUAL_STATUSES, canMove, statusesBefore, type OrderStatus } from './order-status.js';
import type { OrdersDeps } from './orders-deps.js';
import { findOrderById, findOrdersByIds, moveOrders, type Order } from './orders-repository.js';

/** PATCH /orders/:id: the current status is a no-op, a forward move is applied, anything else is 409. */
export async function changeOrderStatus(
  { db, logger }: OrdersDeps,
  id: number,
  to: OrderStatus,
): Promise<Order> {
  // The usual case in one guarded statement, no transaction: the move happens only from a status
  // it may come from. Anything else (no-op, backward, unknown order) is decided under the lock.
  if (MANUAL_STATUSES.includes(to) && (await moveOrders(db, [{ id }], statusesBefore(to), to)) > 0) {
    const moved = await findOrderById(db, id);
    if (!moved) throw new Error(`order ${id} vanished after its status changed`);
    logChange(logger, moved, to);
    return moved;
  }
  const { order, changed } = await db.transaction(async (trx) => {
    const current = await findOrderById(trx, id, { forUpdate: true });
    if (!current) throw new AppError('order_not_found', `Order ${id} not found`, 404);
    if (current.status === to) return { order: current, changed: false };
    if (!MANUAL_STATUSES.includes(to) || !canMove(current.status, to)) {
      throw new AppError(
        'invalid_transition',
        `Order ${current.orderNumber} is ${current.status}; it cannot become ${to}`,
        409,
      );
    }
    await moveOrders(trx, [{ id }], statusesBefore(to), to);
    return { order: await findOrderById(trx, id), changed: true };
  });
  if (!order) throw new Error(`order ${id} vanished inside its own transaction`);
  if (changed) logChange(logger, order, to);
  return order;
}

function logChange(logger: OrdersDeps['logger'], order: Order, to: OrderStatus): void {
  logger.info(
    { orderId: order.id, orderNumber: order.orderNumber, status: to },
    `Order ${order.orderNumber} is ${to}`,
  );
}

/** One order's outcome in POST /orders/deliveries: what PATCH /orders/:id would have answered. */
export type DeliveryResult =
  | { orderId: number; ok: true }
  | { orderId: number; ok: false; status: number; error: { code: string; message: string } };

/**
 * POST /orders/deliveries, the dispatcher's call for the releases it has in hand: DELIVERED for
 * every order that may take it in one guarded UPDATE and one read, whatever their number. An
 * order the UPDATE leaves short of DELIVERED (unknown, PENDING, REJECTED) goes through
 * changeOrderStatus alone, so each gets exactly PATCH's answer (404, 409).
 */
export async function deliverOrders(
  deps: OrdersDeps,
  deliveries: DeliveriesInput,
): Promise<DeliveryResult[]> {
  const { db, logger } = deps;
  const ids = [...new Set(deliveries.map((d) => d.orderId))];
  // The rows this UPDATE moved carry its exact stamp; the others were DELIVERED already (a no-op).
  const at = new Date();
  await moveOrders(
    db,
    ids.map((id) => ({ id })),
    statusesBefore('DELIVERED'),
    'DELIVERED',
    at,
  );
  const orders = await findOrdersByIds(db, ids, { itemsOf: [] });
  const logged = new Set<number>();
  return Promise.all(
    deliveries.map(async ({ orderId, correlationId }): Promise<DeliveryResult> => {
      const inFlow = <T>(fn: () => T) => (correlationId ? runWithCorrelationId(correlationId, fn) : fn());
      const order = orders.get(orderId);
      if (order?.status === 'DELIVERED') {
        if (order.updatedAt.getTime() === at.getTime() && !logged.has(orderId)) {
          logged.add(orderId);
          inFlow(() => logChange(logger, order, 'DELIVERED'));
        }
        return { orderId, ok: true };
      }
      try {
        await inFlow(() => changeOrderStatus(deps, orderId, 'DELIVERED'));
        return { orderId, ok: true };
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        return { orderId, ok: false, status: err.status, error: { code: err.code, message: err.message } };
      }
    }),
  );
}
