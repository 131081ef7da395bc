import { PoisonMessageError, cityName, onEvents, type OrderPlacedData } from '@delivery/common';
import type { DispatchDeps } from './dispatch-deps.js';
import { dispatchOrders } from './dispatch-orders.js';

/**
 * What the dispatcher's columns could never hold. The shared envelope schema refuses it already;
 * checked again here, with the same city definition, because an insert that fails the same way
 * on every attempt must be a DLQ entry, never a retry loop.
 */
function unfit(order: OrderPlacedData): string | undefined {
  if (order.orderNumber.length > 64) return 'orderNumber is longer than 64 characters';
  const city = cityName.safeParse(order.city);
  if (!city.success) return `city ${city.error.issues.map((i) => i.message).join('; ')}`;
  return undefined;
}

/**
 * Entry point like a route, a fetched batch at a time: the loop has validated the envelopes. An
 * order the dispatcher can never store fails the batch; the loop then handles its events one at
 * a time, and that one goes to the DLQ instead of blocking its partition. Any other throw is
 * retried.
 */
export function orderConfirmedHandler(deps: DispatchDeps) {
  return onEvents('order.confirmed', async (events) => {
    for (const event of events) {
      const problem = unfit(event.data);
      if (problem) throw new PoisonMessageError(problem);
    }
    await dispatchOrders(
      deps,
      events.map((event) => ({ order: event.data, correlationId: event.correlationId })),
    );
  });
}
