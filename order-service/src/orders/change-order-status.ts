import { AppError } from '@delivery/common';
import { MANUAL_STATUSES, canMove, statusesBefore, type OrderStatus } from './order-status.js';
import type { OrdersDeps } from './orders-deps.js';
import { findOrderById, moveOrders, type Order } from './orders-repository.js';

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
