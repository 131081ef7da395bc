import { PoisonMessageError, onEvent, type OrderPlacedData } from '@delivery/common';
import { cityKey } from '../keys.js';
import type { DispatchDeps } from './dispatch-deps.js';
import { dispatchOrder } from './dispatch-order.js';

/** Limits of the dispatcher's columns that the shared event schema does not state. */
function unfit(order: OrderPlacedData): string | undefined {
  if (order.orderNumber.length > 64) return 'orderNumber is longer than 64 characters';
  if (cityKey(order.city) === '') return 'city is blank';
  return undefined;
}

/**
 * Entry point like a route: the loop has validated the envelope. An order the dispatcher can
 * never store goes to the DLQ instead of blocking its partition; any other throw is retried.
 */
export function orderConfirmedHandler(deps: DispatchDeps) {
  return onEvent('order.confirmed', async (event) => {
    const problem = unfit(event.data);
    if (problem) throw new PoisonMessageError(problem);
    await dispatchOrder(deps, event.data, event.correlationId);
  });
}
