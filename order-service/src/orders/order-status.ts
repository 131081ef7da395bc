/** The order lifecycle of DESIGN.md §2. */
export const ORDER_STATUSES = [
  'PENDING',
  'CONFIRMED',
  'DISPATCHED',
  'DELIVERED',
  'REJECTED',
  'CANCELLED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** For each status, the statuses it may be reached from. Anything else would move the order back. */
const REACHABLE_FROM: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: [],
  CONFIRMED: ['PENDING'],
  DISPATCHED: ['CONFIRMED'],
  // From CONFIRMED too: the vehicle's release can overtake the order.dispatched event.
  DELIVERED: ['CONFIRMED', 'DISPATCHED'],
  REJECTED: ['PENDING'],
  // DELIVERED and CANCELLED are both final: whichever commits first wins.
  CANCELLED: ['PENDING', 'CONFIRMED', 'DISPATCHED'],
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
 * order.confirmed event. A delivery and a cancellation are people's decisions.
 */
export const MANUAL_STATUSES: readonly OrderStatus[] = ['DELIVERED', 'CANCELLED'];
