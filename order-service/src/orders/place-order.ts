import {
  coalesce,
  currentCorrelationId,
  enqueueEvents,
  isDatabaseUnavailable,
  newCorrelationId,
} from '@delivery/common';
import { centsToNumber, formatCents, numberToCents, toCents } from './money.js';
import { orderEventData } from './order-events.js';
import { totalCents, type PlaceOrderInput } from './order-schemas.js';
import type { OrdersDeps } from './orders-deps.js';
import { insertOrders, orderNumberFor, type NewOrder, type Order } from './orders-repository.js';

/** One POST /orders waiting to be written: its order, and the request's flow for its event. */
interface Placement {
  order: NewOrder;
  correlationId: string;
}

/**
 * POST /orders. Requests that arrive while orders are being written are written together in one
 * transaction (group commit; an idle service writes each at once): with the statement as the
 * unit of cost, a batch costs about what one order did. Validation happened before, so a bad
 * input never enters a batch; a batch that fails before its COMMIT is retried one order at a time
 * by coalesce, so each caller gets its own order's error (an unreachable database fails them all
 * at once: 503 without a second wait).
 */
export function orderPlacer(deps: OrdersDeps): (input: PlaceOrderInput) => Promise<Order> {
  // Two transactions in flight at most; the rest of the pool stays for reads and the consumer.
  // A database that is down fails every order of the batch alike: answer 503 at once.
  // Nor is a batch written again whose COMMIT may have happened (see placeOrders).
  const place = coalesce((batch: Placement[]) => placeOrders(deps, batch), {
    maxBatch: 100,
    concurrency: 2,
    retryAlone: (err) => !isDatabaseUnavailable(err) && !commitUncertain.has(err as object),
  });
  return async (input) => {
    // The batch is written outside this request's async context: carry its correlation id along.
    const order = await place({
      order: newOrder(input),
      correlationId: currentCorrelationId() ?? newCorrelationId(),
    });
    deps.logger.info(
      { orderId: order.id, orderNumber: order.orderNumber },
      `Order placed ${order.orderNumber}`,
    );
    return order;
  };
}

function newOrder(input: PlaceOrderInput): NewOrder {
  return {
    customerId: input.customerId,
    city: input.city,
    totalAmount: formatCents(totalCents(input.items)),
    items: input.items.map((i) => ({ ...i, price: formatCents(numberToCents(i.price)) })),
  };
}

/** Failures that came once COMMIT was sent: the batch may have committed, so it is not retried. */
const commitUncertain = new WeakSet<object>();

/**
 * The orders, their items and their order.created events commit together: no event is lost or
 * invented. The answer is built from what was written (no read-back), with the timestamps the
 * rows were given, so it equals what GET /orders/:id returns later.
 *
 * A failure before COMMIT rolled everything back: it is thrown, and coalesce writes the orders
 * again one by one. Once COMMIT was sent the outcome is unknown (a connection lost mid-commit),
 * and writing them again could place them twice: each caller gets the error instead (coalesce's
 * retryAlone says no for it).
 */
async function placeOrders({ db, relay }: OrdersDeps, batch: readonly Placement[]): Promise<Order[]> {
  // DATETIME(3) keeps milliseconds, which is all a Date has.
  const at = new Date();
  let committing = false;
  try {
    const { orders, enqueued } = await db.transaction(async (trx) => {
      const ids = await insertOrders(
        trx,
        batch.map((p) => p.order),
        at,
      );
      const orders = batch.map((p, k) => placedOrder(ids[k]!, p.order, at));
      const enqueued = await enqueueEvents(
        trx,
        orders.map((order, k) => ({
          type: 'order.created' as const,
          key: order.id,
          data: orderEventData(order),
          correlationId: batch[k]!.correlationId,
        })),
      );
      committing = true;
      return { orders, enqueued };
    });
    relay.notify(enqueued);
    return orders;
  } catch (err) {
    if (committing && typeof err === 'object' && err !== null) commitUncertain.add(err);
    throw err;
  }
}

/** The order as GET /orders/:id reads it back: PENDING, no vehicle, amounts from their decimals. */
function placedOrder(id: number, order: NewOrder, at: Date): Order {
  const amount = (decimal: string) => centsToNumber(toCents(decimal));
  return {
    id,
    orderNumber: orderNumberFor(id),
    customerId: order.customerId,
    city: order.city,
    status: 'PENDING',
    items: order.items.map((i) => ({ productId: i.productId, price: amount(i.price), quantity: i.quantity })),
    totalAmount: amount(order.totalAmount),
    vehicleNumber: null,
    rejectionReason: null,
    cancellationReason: null,
    createdAt: at,
    updatedAt: at,
  };
}
