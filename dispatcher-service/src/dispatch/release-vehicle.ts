import { AppError, cityKey, coalesce, isDatabaseUnavailable, type Db } from '@delivery/common';
import { vehicleKey } from '../keys.js';
import type { OrdersClient } from '../orders-client/orders-client.js';
import {
  findVehiclesWithOrders,
  type Vehicle,
  type VehicleWithOrder,
} from '../vehicles/vehicles-repository.js';
import { closeAssignments, findReleasedSince, type AssignmentRef } from './assignments-repository.js';
import type { DispatchDeps } from './dispatch-deps.js';

/** A release as the route hands it over. */
export interface ReleaseRequest {
  vehicle_number: string;
  /** The assignment example's route form names the city too; it must be the vehicle's. */
  city?: string;
  /**
   * The order the client means to deliver ({"orderId"} in the body, or If-Match): the release
   * happens only while the vehicle carries one of them.
   */
  expectedOrders?: ReadonlySet<number>;
  /** When the request arrived: it ends only an assignment that existed then. */
  arrivedAt: Date;
}

export interface ReleasedVehicle {
  vehicle_number: string;
  city: string;
  orderId: number;
  orderNumber: string;
  status: 'DELIVERED';
}

type ReleaseDeps = DispatchDeps & { orders: OrdersClient };

interface Steps {
  find: (key: string) => Promise<VehicleWithOrder | undefined>;
  /** True when this call closed the assignment, false when another closer had already. */
  close: (assignmentId: number) => Promise<boolean>;
}

/**
 * The release of one vehicle, as PATCH /dispatch-locations/…/release runs it. Releases that run
 * at the same time share their statements: the lookups that arrive while one is being read are
 * read together next, and so are the closes (and order-service gets their deliveries in one
 * request, see OrdersClient). An idle dispatcher reads and writes each at once.
 */
export function vehicleReleaser(deps: ReleaseDeps): (request: ReleaseRequest) => Promise<ReleasedVehicle> {
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
      const closed = await closeAssignments(deps.db, ids);
      // The same assignment twice in a batch (a burst of releases): only its first caller closed it.
      return ids.map((id) => closed.delete(id));
    },
    { maxBatch: 500, concurrency: 1, retryAlone },
  );
  return (request) => releaseVehicle({ ...deps, find, close }, request);
}

/**
 * Delivers the order the vehicle carried when the request arrived, and frees the vehicle.
 * order-service is told first: when it cannot be reached nothing changes here (502), and
 * repeating the request completes the release. The assignment, not the Redis lock, says which
 * order the vehicle carries: the lock may have vanished with a Redis restart.
 *
 * Requests of a burst (a double click, a retrying proxy) all name the assignment that existed
 * when they arrived: the first closes it, the others answer the same and change nothing, and
 * none reaches the order the vehicle is given next.
 */
async function releaseVehicle(deps: ReleaseDeps & Steps, request: ReleaseRequest): Promise<ReleasedVehicle> {
  const found = await deps.find(vehicleKey(request.vehicle_number));
  if (!found || (request.city !== undefined && cityKey(request.city) !== found.vehicle.city_key)) {
    const where = request.city === undefined ? '' : ` in ${request.city}`;
    throw new AppError('vehicle_not_found', `No vehicle ${request.vehicle_number}${where}`, 404);
  }
  const { vehicle } = found;
  const target = await assignmentToEnd(deps, found, request);
  const answer = releasedAnswer(vehicle, target);
  if (target.status === 'RELEASED') return answer;

  await deps.orders.markDelivered(answer.orderId);
  // One statement closes the assignment and marks the vehicle released; only the request that
  // closed it drops the lock, logs and serves the queue.
  if (!(await deps.close(target.id))) return answer;
  await unlockReleasedVehicle(deps, vehicle, answer.orderId);
  deps.logger.info(
    {
      orderId: answer.orderId,
      orderNumber: answer.orderNumber,
      vehicle_number: vehicle.vehicle_number,
      city: vehicle.city,
    },
    `Vehicle released from order ${answer.orderNumber}`,
  );
  await deps.vehicleAvailable(vehicle.city_key, 'release');
  return answer;
}

/**
 * Which assignment this request ends: the vehicle's current one if it is the one the client
 * names, or else the one the vehicle carried when the request arrived. One that is RELEASED
 * already was ended by an earlier request of the same burst (or a delivery by hand): the answer
 * is the same, nothing more happens.
 */
async function assignmentToEnd(
  deps: ReleaseDeps,
  { vehicle, assignment }: VehicleWithOrder,
  { expectedOrders, arrivedAt }: ReleaseRequest,
): Promise<AssignmentRef> {
  const current = assignment && { ...assignment, vehicle_id: vehicle.id, status: 'ACTIVE' as const };
  if (expectedOrders) {
    // A repeat of a release that went through finds the vehicle free or carrying the next
    // order: either way not the one named. (An Idempotency-Key gets the first answer back.)
    if (current && expectedOrders.has(current.order_id)) return current;
    const carries = current ? `order ${current.order_number}` : 'no order';
    throw new AppError(
      'assignment_changed',
      `${vehicle.vehicle_number} carries ${carries}, not the order this release names`,
      409,
    );
  }
  if (current && current.created_at < arrivedAt) return current;
  const ended = await findReleasedSince(deps.db, vehicle.id, arrivedAt);
  if (ended) return ended;
  throw new AppError('vehicle_not_allocated', `${vehicle.vehicle_number} has no order`, 409);
}

function releasedAnswer(vehicle: Vehicle, assignment: AssignmentRef): ReleasedVehicle {
  return {
    vehicle_number: vehicle.vehicle_number,
    city: vehicle.city,
    orderId: Number(assignment.order_id),
    orderNumber: assignment.order_number,
    status: 'DELIVERED',
  };
}

async function unlockReleasedVehicle(deps: DispatchDeps, vehicle: Vehicle, orderId: number): Promise<void> {
  // Only after the assignment was closed: a lock dropped earlier could be re-created by the
  // reconciler for the still-active assignment it read, and then outlive the release.
  try {
    await deps.locks.release(vehicle.vehicle_key, orderId);
  } catch (err) {
    // The assignment is closed; the stray lock only hides the vehicle until the reconciler removes it.
    deps.logger.warn(
      { err, vehicle_number: vehicle.vehicle_number },
      'could not drop the vehicle lock; the reconciler will',
    );
  }
}

/** The order the vehicle carries now (what If-Match on a release compares with). */
export async function currentAssignment(db: Db, vehicleNumber: string) {
  const found = (await findVehiclesWithOrders(db, [vehicleKey(vehicleNumber)])).values().next().value;
  if (!found) throw new AppError('vehicle_not_found', `No vehicle ${vehicleNumber}`, 404);
  const { vehicle, assignment } = found;
  if (!assignment) throw new AppError('no_assignment', `${vehicle.vehicle_number} carries no order`, 404);
  return {
    vehicle_number: vehicle.vehicle_number,
    city: vehicle.city,
    orderId: assignment.order_id,
    orderNumber: assignment.order_number,
  };
}
