/** The order lifecycle of DESIGN.md §2. */
export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'DISPATCHED', 'DELIVERED', 'REJECTED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** For each status, the statuses it may be reached from. Anything else would move the order back. */
const REACHABLE_FROM: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: [],
  CONFIRMED: ['PENDING'],
  // DELIVERED from CONFIRMED: the vehicle's release can overtake the order.dispatched event.
  DISPATCHED: ['CONFIRMED'],
  DELIVERED: ['CONFIRMED', 'DISPATCHED'],
  REJECTED: ['PENDING'],
};

export function statusesBefore(to: OrderStatus): readonly OrderStatus[] {
  return REACHABLE_FROM[to];
}

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return REACHABLE_FROM[to].includes(from);
}

/**
 * What PATCH /orders/:id may set. CONFIRMED and REJECTED are inventory's decision and DISPATCHED
 * needs the vehicle the dispatcher chose: set by hand they would skip the reservation or the
 * order.confirmed event, so only the delivery is set over HTTP.
 */
export const MANUAL_STATUSES: readonly OrderStatus[] = ['DELIVERED'];
