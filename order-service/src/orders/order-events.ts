import { PoisonMessageError, type Knex, type OrderPlacedData } from '@delivery/common';
import { numberToMoneyString } from './money.js';
import { findOrderById, type Order } from './orders-repository.js';

/** The data of order.created and order.confirmed; events carry money as decimal strings. */
export function orderEventData(order: Order): OrderPlacedData {
  return {
    orderId: order.id,
    orderNumber: order.orderNumber,
    customerId: order.customerId,
    city: order.city,
    items: order.items.map((i) => ({
      productId: i.productId,
      price: numberToMoneyString(i.price),
      quantity: i.quantity,
    })),
    totalAmount: numberToMoneyString(order.totalAmount),
  };
}

/**
 * Locks the order an event is about. Events are only published after the order committed, so
 * an unknown order can never be fixed by retrying: it goes to the DLQ.
 */
export async function lockOrderOfEvent(trx: Knex.Transaction, orderId: number): Promise<Order> {
  const order = await findOrderById(trx, orderId, { forUpdate: true });
  if (!order) throw new PoisonMessageError(`Order ${orderId} not found`);
  return order;
}
