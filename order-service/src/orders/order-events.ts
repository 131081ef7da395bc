import { PoisonMessageError, type Envelope, type Trx, type OrderPlacedData } from '@delivery/common';
import { numberToMoneyString } from './money.js';
import { statusesBefore, type OrderStatus } from './order-status.js';
import { findOrdersByIds, moveOrders, type Order, type OrderChange } from './orders-repository.js';

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
 * Locks the orders a batch of events is about, in one statement (items only for `itemsOf`).
 * Events are only published after their order committed, so an unknown order can never be fixed
 * by retrying: it goes to the DLQ (the loop retries a failed batch one event at a time, so only
 * that event does).
 */
export async function lockOrdersOfEvents(
  trx: Trx,
  events: readonly Envelope<'order.inventory.updated' | 'order.dispatched'>[],
  itemsOf: readonly number[] = [],
): Promise<Map<number, Order>> {
  const ids = [...new Set(events.map((e) => e.data.orderId))];
  if (ids.length === 0) return new Map();
  const orders = await findOrdersByIds(trx, ids, { itemsOf, forUpdate: true });
  const missing = ids.find((id) => !orders.has(id));
  if (missing !== undefined) throw new PoisonMessageError(`Order ${missing} not found`);
  return orders;
}

/**
 * Moves a batch's orders to `to` in one guarded statement. The batch holds their locks and
 * decided each move from their status, so every row must move: anything else rolls it back.
 */
export async function moveLocked(trx: Trx, changes: readonly OrderChange[], to: OrderStatus): Promise<void> {
  const moved = await moveOrders(trx, changes, statusesBefore(to), to);
  if (moved !== changes.length) throw new Error(`${moved} of ${changes.length} locked orders moved to ${to}`);
}
