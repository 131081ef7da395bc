import { coalesce } from '@delivery/common';
import { allocateVehicles } from './allocate-vehicles.js';
import { awaitCityLocks, ensureCityLock } from './city-locks-repository.js';
import { inCityTransaction, type Allocation } from './city-transaction.js';
import type { AllocationDeps, DispatchDeps } from './dispatch-deps.js';
import { citiesWhereSomeoneWaits } from './waiting-orders-repository.js';

/**
 * Allocates the cities' waiting orders, oldest first, while they have free vehicles: what a
 * release, a registration and the reconciler run, in one transaction for all the cities. Nobody
 * waiting is the usual case after a release, and costs two statements and no transaction: once a
 * city's row lock has been free for a moment, every allocation or enqueue of the city that began
 * before has committed, so the plain read sees its queued orders; and one that begins afterwards
 * reads the freed vehicle itself.
 */
export async function allocateWaitingOrders(
  deps: AllocationDeps,
  keys: readonly string[],
): Promise<Allocation[]> {
  const cities = [...new Set(keys)];
  if (cities.length === 0) return [];
  for (const key of cities) await ensureCityLock(deps.db, key);
  await awaitCityLocks(deps.db, cities);
  const waiting = await citiesWhereSomeoneWaits(deps.db, cities);
  if (waiting.length === 0) return [];
  return inCityTransaction(deps, waiting, async (tx) => {
    await allocateVehicles(
      deps,
      tx,
      waiting.map((key) => ({ key, arrivals: [] })),
    );
    return tx.allocated;
  });
}

/**
 * This process's allocation rounds after releases and registrations (DispatchDeps.vehicleAvailable):
 * one round at a time, and the cities asked for while a round runs are all allocated by the next
 * one, in one transaction. They cannot join the running round (it may have read the free vehicles
 * before theirs was freed); a caller waits for at most the round in progress and its own. The
 * vehicle change is committed and stands: if the round fails, the reconciler allocates the city on
 * its next pass, so the caller still gets its answer.
 */
export function createAllocationRounds(deps: AllocationDeps): DispatchDeps['vehicleAvailable'] {
  const round = coalesce(
    async (keys: string[]) => {
      await allocateWaitingOrders(deps, keys);
      return keys.map(() => undefined);
    },
    { concurrency: 1, maxBatch: 1_000 },
  );
  return async (key, by) => {
    try {
      await round(key);
    } catch (err) {
      deps.logger.error(
        { err, city: key },
        `serving waiting orders after ${by} failed; the reconciler will retry`,
      );
    }
  };
}
