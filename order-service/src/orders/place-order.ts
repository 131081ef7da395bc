import { enqueueEvent } from '@delivery/common';
import { formatCents, numberToCents } from './money.js';
import { orderEventData } from './order-events.js';
import { totalCents, type PlaceOrderInput } from './order-schemas.js';
import type { OrdersDeps } from './orders-deps.js';
import { findOrderById, insertOrder, setOrderNumber, type Order } from './orders-repository.js';

/** ORD-000123: readable, and unique because the id is. */
export function orderNumberFor(id: number): string {
  return `ORD-${String(id).padStart(6, '0')}`;
}

/** The order, its items and order.created commit together: the event cannot be lost or invented. */
export async function placeOrder({ db, relay, logger }: OrdersDeps, input: PlaceOrderInput): Promise<Order> {
  const order = await db.transaction(async (trx) => {
    const id = await insertOrder(trx, {
      customerId: input.customerId,
      city: input.city,
      totalAmount: formatCents(totalCents(input.items)),
      items: input.items.map((i) => ({ ...i, price: formatCents(numberToCents(i.price)) })),
    });
    await setOrderNumber(trx, id, orderNumberFor(id));
    const placed = await findOrderById(trx, id);
    if (!placed) throw new Error(`order ${id} vanished inside its own transaction`);
    await enqueueEvent(trx, { type: 'order.created', key: id, data: orderEventData(placed) });
    return placed;
  });
  relay.notify();
  logger.info({ orderId: order.id, orderNumber: order.orderNumber }, `Order placed ${order.orderNumber}`);
  return order;
}
