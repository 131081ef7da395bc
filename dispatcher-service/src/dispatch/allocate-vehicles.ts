import { coalesce, enqueueEvents, runWithCorrelationId, type Enqueued, type Knex } from '@delivery/common';
import { findFreeVehicles, type Vehicle } from '../vehicles/vehicles-repository.js';
import { insertAssignments } from './assignments-repository.js';
import { awaitCityLocks, ensureCityLock, lockCities } from './city-locks-repository.js';
import type { DispatchDeps, ServeDeps } from './dispatch-deps.js';
import { dropLock, lockVehicles, walkOneByOne, type Claim } from './claim-vehicles.js';
import {
  deleteWaitingOrders,
  citiesWhereSomeoneWaits,
  findOldestWaiting,
  type WaitingOrder,
} from './waiting-orders-repository.js';

/**
 * Free vehicles read per city and round beyond the orders that just arrived: room for refused
 * locks, and for the queue a release or a registration serves, without another round.
 */
const ROUND_SPARE = 8;

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
  trx: Knex.Transaction;
  held: Map<string, number>;
  allocated: Allocation[];
}

/** A city to serve, and how many of its orders arrived in this transaction. */
export interface CityToServe {
  key: string;
  arrivals: number;
}

/**
 * Serves the cities' waiting orders, oldest first, while they have free vehicles: what a
 * release, a registration and the reconciler run, in one transaction for all the cities. Nobody
 * waiting is the usual case after a release, and costs two statements and no transaction: once a
 * city's row lock has been free for a moment, every allocation or enqueue of the city that began
 * before has committed, so the plain read sees its queued orders; and one that begins afterwards
 * reads the freed vehicle itself.
 */
export async function serveWaitingOrders(deps: ServeDeps, keys: readonly string[]): Promise<Allocation[]> {
  const cities = [...new Set(keys)];
  if (cities.length === 0) return [];
  for (const key of cities) await ensureCityLock(deps.db, key);
  await awaitCityLocks(deps.db, cities);
  const waiting = await citiesWhereSomeoneWaits(deps.db, cities);
  if (waiting.length === 0) return [];
  return inCityTransaction(deps, waiting, async (tx) => {
    await serveQueues(
      deps,
      tx,
      waiting.map((key) => ({ key, arrivals: 0 })),
    );
    return tx.allocated;
  });
}

/**
 * This process's serving rounds after releases and registrations: one round at a time, and the
 * cities asked for while a round runs are all served by the next one, in one transaction. They
 * cannot join the running round (it may have read the free vehicles before theirs was freed);
 * a caller waits for at most the round in progress and its own.
 */
export function createServeRounds(deps: ServeDeps): (key: string) => Promise<void> {
  const round = coalesce(
    async (keys: string[]) => {
      await serveWaitingOrders(deps, keys);
      return keys.map(() => undefined);
    },
    { concurrency: 1, maxBatch: 1_000 },
  );
  return round;
}

/**
 * After a release or a registration: serves the city in this process's next round (see
 * createServeRounds). The vehicle change is committed and stands; if serving the queue fails now,
 * the reconciler serves it on its next pass, so the caller still gets its answer.
 */
export async function serveWaitingOrdersAfter(deps: DispatchDeps, key: string, what: string): Promise<void> {
  try {
    await deps.serveRounds(key);
  } catch (err) {
    deps.logger.error(
      { err, city: key },
      `serving waiting orders after ${what} failed; the reconciler will retry`,
    );
  }
}

/**
 * Runs `work` in one transaction holding the locks of the cities (see lockCities): every
 * allocation goes through here. The order.dispatched events of its allocations are written in
 * it; a Redis lock taken in it is dropped again if it does not commit, and committed allocations
 * are announced (relay handed the events, metric, log line under the order's correlation id).
 */
export async function inCityTransaction<T>(
  deps: ServeDeps,
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

/**
 * The one allocation function. Serves the queues of the cities in the open transaction: per
 * round, the k oldest waiting orders of each city get its k least recently released free
 * vehicles (k = min(waiting, free)), with one statement reading the free vehicles of every city,
 * one the waiting orders, one SET NX per allocation, one multi-row INSERT of the assignments and
 * one DELETE of the served queue rows. Another round only while a city may have more of both.
 */
export async function serveQueues(
  deps: ServeDeps,
  tx: CityTransaction,
  cities: readonly CityToServe[],
): Promise<void> {
  const skip = new Map<string, number[]>(cities.map((c) => [c.key, []]));
  let open = cities.map((c) => ({ key: c.key, limit: c.arrivals + ROUND_SPARE }));
  while (open.length > 0) {
    const pages = open.map((c) => ({ ...c, skip: skip.get(c.key)! }));
    const free = byCity(await findFreeVehicles(tx.trx, pages));
    const withFree = open.filter((c) => free.has(c.key));
    const limits = withFree.map((c) => ({ key: c.key, limit: free.get(c.key)!.length }));
    const waiting = byCity(await findOldestWaiting(tx.trx, limits));
    const rounds = withFree
      .filter((c) => waiting.has(c.key))
      .map((c) => ({ ...c, orders: waiting.get(c.key)!, vehicles: free.get(c.key)! }));
    const refusedBefore = new Map(rounds.map((r) => [r.key, skip.get(r.key)!.length]));
    const outcome = await allocateRound(deps, tx, rounds, skip);
    open = rounds.filter((r) => {
      const { claimed, used } = outcome.get(r.key) ?? { claimed: 0, used: 0 };
      const refused = skip.get(r.key)!.length - refusedBefore.get(r.key)!;
      // Done when the queue read was all there was and left, or the free vehicles read were all
      // there were and are taken or refused; otherwise another round, as long as this one moved.
      const drained = r.orders.length < r.vehicles.length && claimed === r.orders.length;
      const exhausted = r.vehicles.length < r.limit && used + refused >= r.vehicles.length;
      return (claimed > 0 || refused > 0) && !drained && !exhausted;
    });
  }
}

interface Round {
  key: string;
  orders: WaitingOrder[];
  vehicles: Vehicle[];
}

/**
 * One round over the cities; returns, per city, how many waiting orders left the queue and how
 * many of them with a vehicle (an order found to have one already leaves without).
 */
async function allocateRound(
  deps: ServeDeps,
  tx: CityTransaction,
  rounds: readonly Round[],
  skip: Map<string, number[]>,
): Promise<Map<string, { claimed: number; used: number }>> {
  const locked = await Promise.all(rounds.map((r) => lockVehicles(deps, tx, r.orders, r.vehicles)));
  rounds.forEach((r, i) => skip.get(r.key)!.push(...locked[i]!.refused));
  let claims: Claim[] = locked.flatMap((l) => l.claims);
  const inserted = await insertAssignments(tx.trx, claims.map(assignmentRow));
  if (inserted !== 'inserted') {
    // The final guard refused a row, and with it the whole statement: the same orders again, one
    // at a time, each assignment accepted or refused on its own.
    await Promise.all(claims.map(({ order, vehicle }) => vehicle && dropLock(deps, tx, vehicle, order)));
    claims = [];
    for (const r of rounds) claims.push(...(await walkOneByOne(deps, tx, r.orders, skip.get(r.key)!)));
  }
  await deleteWaitingOrders(
    tx.trx,
    claims.map((c) => c.order.id),
  );
  const outcome = new Map<string, { claimed: number; used: number }>();
  for (const { order, vehicle } of claims) {
    const city = outcome.get(order.city_key) ?? { claimed: 0, used: 0 };
    outcome.set(order.city_key, { claimed: city.claimed + 1, used: city.used + (vehicle ? 1 : 0) });
    if (vehicle) tx.allocated.push(allocationOf(order, vehicle));
  }
  return outcome;
}

function byCity<T extends { city_key: string }>(rows: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.city_key);
    if (group) group.push(row);
    else groups.set(row.city_key, [row]);
  }
  return groups;
}

function assignmentRow({ order, vehicle }: Claim) {
  return {
    order_id: Number(order.order_id),
    order_number: order.order_number,
    vehicle_id: vehicle!.id,
    city_key: order.city_key,
  };
}

function allocationOf(order: WaitingOrder, vehicle: Vehicle): Allocation {
  return {
    orderId: Number(order.order_id),
    orderNumber: order.order_number,
    vehicleNumber: vehicle.vehicle_number,
    city: order.city,
    cityKey: order.city_key,
    correlationId: order.correlation_id,
  };
}

function dispatchedEvent({ orderId, orderNumber, vehicleNumber, city, correlationId }: Allocation) {
  return {
    type: 'order.dispatched' as const,
    key: orderId,
    data: { orderId, orderNumber, vehicleNumber, city },
    correlationId,
  };
}

function announce(deps: ServeDeps, allocated: readonly Allocation[], enqueued: Enqueued): void {
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
