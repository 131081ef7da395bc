import type { Db, Logger, OutboxRelay } from '@delivery/common';
import type { DispatchMetrics } from './dispatch-metrics.js';
import type { VehicleLocks } from './vehicle-locks.js';

/** What allocating needs; built once in the composition root. */
export interface AllocationDeps {
  db: Db;
  locks: VehicleLocks;
  relay: OutboxRelay;
  logger: Logger;
  metrics: DispatchMetrics;
}

/** Why a vehicle became available to the orders waiting in its city. */
export type AvailableBy = 'release' | 'registration';

/** What the dispatch domain functions need: the above and this process's allocation rounds. */
export interface DispatchDeps extends AllocationDeps {
  /**
   * A vehicle of the city became available: its waiting orders are allocated in this process's
   * next round (see createAllocationRounds). Never throws: the reconciler retries what fails.
   */
  vehicleAvailable: (cityKey: string, by: AvailableBy) => Promise<void>;
}
