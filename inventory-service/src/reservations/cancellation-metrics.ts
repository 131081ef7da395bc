import { serviceCounter, type Metrics } from '@delivery/common';

/** What an order.cancelled event did: see returnStock. */
export type CancellationOutcome = 'returned' | 'rejected' | 'before_reservation' | 'already_cancelled';

export type CancellationMetrics = ReturnType<typeof createCancellationMetrics>;

/** Cancellation counters on the service's registry. */
export function createCancellationMetrics(registry: Metrics['registry']) {
  return {
    cancellations: serviceCounter(
      registry,
      'inventory_cancellations_total',
      'order.cancelled events handled, by outcome (returned, rejected, before_reservation, already_cancelled)',
      ['outcome'] as const,
    ),
    unitsReturned: serviceCounter(
      registry,
      'inventory_stock_returned_units_total',
      'Units of stock given back to products by cancelled orders',
    ),
  };
}
