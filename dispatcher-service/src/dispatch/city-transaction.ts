import { enqueueEvents, runWithCorrelationId, type Enqueued, type Trx } from '@delivery/common';
import { lockCities } from './city-locks-repository.js';
import type { AllocationDeps } from './dispatch-deps.js';

export interface Allocation {
  orderId: number;
  orderNumber: string;
  vehicleNumber: string;
  city: string;
  cityKey: string;
  /** The flow that confirmed the order: its event and log line carry this id. */
  correlationId: string;
}

/**
 * An open transaction holding the locks of its cities. The Redis locks taken in it (vehicle key
 * → order id) are dropped again unless it commits; its allocations are announced once it does.
 */
export interface CityTransaction {
  trx: Trx;
  held: Map<string, number>;
  allocated: Allocation[];
}

/**
 * Runs `work` in one transaction holding the locks of the cities (see lockCities): every
 * allocation goes through here. The order.dispatched events of its allocations are written in
 * it; a Redis lock taken in it is dropped again if it does not commit, and committed allocations
 * are announced (relay handed the events, metric, log line under the order's correlation id).
 */
export async function inCityTransaction<T>(
  deps: AllocationDeps,
  keys: readonly string[],
  work: (tx: CityTransaction) => Promise<T>,
  /** Reports what `work` did once it committed, before the allocations it led to. */
  committed?: (result: T) => void,
): Promise<T> {
  const held = new Map<string, number>();
  const allocated: Allocation[] = [];
  let result: T;
  let enqueued: Enqueued;
  try {
    // READ COMMITTED, every connection's level: each read sees the latest commit of the city.
    [result, enqueued] = await deps.db.transaction(async (trx): Promise<[T, Enqueued]> => {
      await lockCities(trx, [...keys].sort());
      const value = await work({ trx, held, allocated });
      return [value, await enqueueEvents(trx, allocated.map(dispatchedEvent))];
    });
  } catch (err) {
    // No assignment committed: a lock taken for one must not keep the vehicle busy.
    await Promise.all(
      [...held].map(([vehicleKey, orderId]) => deps.locks.release(vehicleKey, orderId).catch(() => false)),
    );
    throw err;
  }
  committed?.(result);
  announce(deps, allocated, enqueued);
  return result;
}

function dispatchedEvent({ orderId, orderNumber, vehicleNumber, city, correlationId }: Allocation) {
  return {
    type: 'order.dispatched' as const,
    key: orderId,
    data: { orderId, orderNumber, vehicleNumber, city },
    correlationId,
  };
}

function announce(deps: AllocationDeps, allocated: readonly Allocation[], enqueued: Enqueued): void {
  if (enqueued.messages.length > 0) deps.relay.notify(enqueued);
  for (const { orderId, orderNumber, vehicleNumber, city, cityKey, correlationId } of allocated) {
    deps.metrics.allocations.inc({ city: cityKey });
    runWithCorrelationId(correlationId, () =>
      deps.logger.info(
        { orderId, orderNumber, vehicle_number: vehicleNumber, city },
        `Vehicle allocated for order ${orderNumber}`,
      ),
    );
  }
}
