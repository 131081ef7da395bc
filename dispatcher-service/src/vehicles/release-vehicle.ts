import { AppError, coalesce, isDatabaseUnavailable } from '@delivery/common';
import { closeAssignments } from '../dispatch/assignments-repository.js';
import { serveWaitingOrdersAfter } from '../dispatch/allocate-vehicle.js';
import type { DispatchDeps } from '../dispatch/dispatch-deps.js';
import { cityKey, vehicleKey } from '../keys.js';
import type { OrdersClient } from '../orders-client/orders-client.js';
import type { ReleaseVehicleInput } from './vehicle-schemas.js';
import { findVehiclesWithOrders, type Vehicle, type VehicleWithOrder } from './vehicles-repository.js';

export interface ReleasedVehicle {
  vehicle_number: string;
  city: string;
  orderId: number;
  orderNumber: string;
  status: 'DELIVERED';
}

type ReleaseDeps = DispatchDeps & { orders: OrdersClient };

/**
 * The release of one vehicle, as PATCH /dispatch-locations/…/release runs it. Releases that run
 * at the same time share their statements: the lookups that arrive while one is being read are
 * read together next, and so are the closes (and order-service gets their deliveries in one
 * request, see OrdersClient). An idle dispatcher reads and writes each at once.
 */
export function vehicleReleaser(deps: ReleaseDeps): (input: ReleaseVehicleInput) => Promise<ReleasedVehicle> {
  // A database that is down fails the whole batch alike: each caller gets the error at once.
  const retryAlone = (err: unknown) => !isDatabaseUnavailable(err);
  const find = coalesce(
    async (keys: string[]) => {
      const found = await findVehiclesWithOrders(deps.db, keys);
      return keys.map((key) => found.get(key));
    },
    { maxBatch: 500, concurrency: 2, retryAlone },
  );
  // One close at a time: two multi-row UPDATEs could lock the same rows in opposite orders.
  const close = coalesce(
    async (ids: number[]) => {
      await closeAssignments(deps.db, ids);
      return ids.map(() => undefined);
    },
    { maxBatch: 500, concurrency: 1, retryAlone },
  );
  return (input) => releaseVehicle({ ...deps, find, close }, input);
}

/**
 * Delivers the vehicle's order and frees the vehicle. order-service is told first: when it
 * cannot be reached nothing changes here (502), and repeating the request completes the
 * release. The assignment, not the Redis lock, says which order the vehicle carries: the lock
 * may have vanished with a Redis restart.
 */
async function releaseVehicle(
  deps: ReleaseDeps & {
    find: (key: string) => Promise<VehicleWithOrder | undefined>;
    close: (assignmentId: number) => Promise<void>;
  },
  input: ReleaseVehicleInput,
): Promise<ReleasedVehicle> {
  const found = await deps.find(vehicleKey(input.vehicle_number));
  if (!found || (input.city !== undefined && cityKey(input.city) !== found.vehicle.city_key)) {
    const where = input.city === undefined ? '' : ` in ${input.city}`;
    throw new AppError('vehicle_not_found', `No vehicle ${input.vehicle_number}${where}`, 404);
  }
  const { vehicle, assignment } = found;
  if (!assignment) throw new AppError('vehicle_not_allocated', `${vehicle.vehicle_number} has no order`, 409);

  const orderId = Number(assignment.order_id);
  await deps.orders.markDelivered(orderId);
  // One statement closes the assignment and marks the vehicle released. A concurrent release of
  // the same vehicle may close it first: the outcome is the same.
  await deps.close(assignment.id);
  await dropLock(deps, vehicle, assignment);
  deps.logger.info(
    {
      orderId,
      orderNumber: assignment.order_number,
      vehicle_number: vehicle.vehicle_number,
      city: vehicle.city,
    },
    `Vehicle released from order ${assignment.order_number}`,
  );
  await serveWaitingOrdersAfter(deps, vehicle.city_key, 'release');
  return {
    vehicle_number: vehicle.vehicle_number,
    city: vehicle.city,
    orderId,
    orderNumber: assignment.order_number,
    status: 'DELIVERED',
  };
}

async function dropLock(
  deps: DispatchDeps,
  vehicle: Vehicle,
  assignment: { id: number; order_id: number },
): Promise<void> {
  // Only after the assignment was closed: a lock dropped earlier could be re-created by the
  // reconciler for the still-active assignment it read, and then outlive the release.
  try {
    await deps.locks.release(vehicle.vehicle_key, assignment.order_id);
  } catch (err) {
    // The assignment is closed; the stray lock only hides the vehicle until the reconciler removes it.
    deps.logger.warn(
      { err, vehicle_number: vehicle.vehicle_number },
      'could not drop the vehicle lock; the reconciler will',
    );
  }
}
