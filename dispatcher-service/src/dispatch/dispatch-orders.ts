/**
 * DESIGN.md §6, step → function. order.confirmed → orderConfirmedHandler → dispatchOrders (here):
 * skips the orders it knows (findKnownOrders) and allocates the others behind their cities' waiting
 * orders, under the cities' row locks in inCityTransaction (city-transaction.ts), which writes
 * order.dispatched to the outbox; those left without a vehicle are stored as waiting.
 * 1. No vehicle in the city → `Cannot find vehicle for order …`, it waits: whyWaiting, logWaiting.
 * 2. Walk the free vehicles, least recently released first, SET NX each: allocateVehicles
 *    (allocate-vehicles.ts) → findFreeVehicles, then lockVehicles (claim-vehicles.ts).
 * 3. insertAssignments; refused → dropLock, walk on (walkOneByOne); `Vehicle allocated …`: announce.
 * 4. Every vehicle busy → `All vehicles occupied`, it waits: logWaiting.
 * The lock's compare-and-delete: vehicle-locks.ts; a release: releaseVehicle → allocateWaitingOrders;
 * missing and stray locks: lock-reconciler.ts.
 */
import { cityKey, runWithCorrelationId, type OrderPlacedData } from '@delivery/common';
import { citiesWithVehicles } from '../vehicles/vehicles-repository.js';
import { allocateVehicles } from './allocate-vehicles.js';
import { ensureCityLock } from './city-locks-repository.js';
import { inCityTransaction, type CityTransaction } from './city-transaction.js';
import type { DispatchDeps } from './dispatch-deps.js';
import { findKnownOrders, type NewWaitingOrder } from './waiting-orders-repository.js';

/** An order.confirmed: the order, and the flow it belongs to. */
export interface ConfirmedOrder {
  order: OrderPlacedData;
  correlationId: string;
}

type WaitReason = 'no_vehicles' | 'occupied';

interface Arrival extends ConfirmedOrder {
  key: string;
}

/**
 * order.confirmed, a batch at a time. In one transaction holding the locks of the batch's cities:
 * orders that have an assignment or wait already are left alone (a redelivery), and so are orders
 * delivered or cancelled before this event came (see finishOrders); the others join the end of
 * their city's queue, in event order, and every city's queue is served oldest first. They join it
 * in memory: allocateVehicles serves the stored queue first, then them, and stores only those it
 * leaves without a vehicle. A new order never overtakes one that has waited longer, and the
 * allocation itself is the same code a release or a registration runs. Handling a batch again is a
 * no-op for every order it already allocated or queued.
 */
export async function dispatchOrders(
  deps: DispatchDeps,
  confirmed: readonly ConfirmedOrder[],
): Promise<void> {
  const arrivals = new Map<number, Arrival>();
  const repeats: ConfirmedOrder[] = [];
  for (const c of confirmed) {
    if (arrivals.has(c.order.orderId)) repeats.push(c);
    else arrivals.set(c.order.orderId, { ...c, key: cityKey(c.order.city) });
  }
  const keys = [...new Set([...arrivals.values()].map((a) => a.key))].sort();
  for (const key of keys) await ensureCityLock(deps.db, key);
  const outcome = await inCityTransaction(deps, keys, (tx) => arrive(deps, tx, [...arrivals.values()], keys));

  // Logged once committed, each under its order's flow (allocations: see inCityTransaction).
  const assigned = (orderId: number) =>
    outcome.known.get(orderId) === 'assigned' || outcome.allocated.has(orderId);
  for (const a of arrivals.values()) {
    const known = outcome.known.get(a.order.orderId);
    if (known === 'assigned') logAssigned(deps, a);
    else if (known === 'finished') logFinished(deps, a);
  }
  for (const a of outcome.waiting) logWaiting(deps, a, outcome.reasons.get(a.key) ?? 'occupied');
  for (const r of repeats) if (assigned(r.order.orderId)) logAssigned(deps, r);
}

async function arrive(deps: DispatchDeps, tx: CityTransaction, arrivals: Arrival[], keys: string[]) {
  const known = await findKnownOrders(
    tx.trx,
    arrivals.map((a) => a.order.orderId),
  );
  const fresh = arrivals.filter((a) => !known.has(a.order.orderId));
  const queued = (key: string) => fresh.filter((a) => a.key === key).map(queueEntry);
  const left = await allocateVehicles(
    deps,
    tx,
    keys.map((key) => ({ key, arrivals: queued(key) })),
  );
  const allocated = new Set(tx.allocated.map((a) => a.orderId));
  const stored = new Set(left.map((o) => o.order_id));
  const waiting = fresh.filter((a) => stored.has(a.order.orderId));
  return { known, allocated, waiting, reasons: await whyWaiting(tx, waiting) };
}

function queueEntry({ order, key, correlationId }: Arrival): NewWaitingOrder {
  return {
    order_id: order.orderId,
    order_number: order.orderNumber,
    city: order.city.trim(),
    city_key: key,
    correlation_id: correlationId,
  };
}

/**
 * Why the orders left waiting wait: a city that allocated in this transaction has vehicles, all
 * busy now; for the others one statement tells a city without vehicles from one with all busy.
 */
async function whyWaiting(
  tx: CityTransaction,
  waiting: readonly Arrival[],
): Promise<Map<string, WaitReason>> {
  const served = new Set(tx.allocated.map((a) => a.cityKey));
  const unknown = [...new Set(waiting.map((a) => a.key))].filter((key) => !served.has(key));
  const registered = await citiesWithVehicles(tx.trx, unknown);
  return new Map(unknown.map((key) => [key, registered.has(key) ? 'occupied' : 'no_vehicles']));
}

function logAssigned(deps: DispatchDeps, { order, correlationId }: ConfirmedOrder): void {
  runWithCorrelationId(correlationId, () =>
    deps.logger.debug(
      { orderId: order.orderId, orderNumber: order.orderNumber },
      'order has a vehicle already; event ignored',
    ),
  );
}

function logFinished(deps: DispatchDeps, { order, correlationId }: ConfirmedOrder): void {
  runWithCorrelationId(correlationId, () =>
    deps.logger.info(
      { orderId: order.orderId, orderNumber: order.orderNumber },
      `Order ${order.orderNumber} is delivered or cancelled already; it gets no vehicle`,
    ),
  );
}

function logWaiting(deps: DispatchDeps, { order, correlationId }: ConfirmedOrder, reason: WaitReason): void {
  const fields = { orderId: order.orderId, orderNumber: order.orderNumber, city: order.city };
  runWithCorrelationId(correlationId, () => {
    if (reason === 'no_vehicles')
      deps.logger.info(fields, `Cannot find vehicle for order ${order.orderNumber}`);
    else deps.logger.info(fields, 'All vehicles occupied');
  });
}
