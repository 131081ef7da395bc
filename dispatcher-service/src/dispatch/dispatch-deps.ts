import type { Db, Logger, OutboxRelay } from '@delivery/common';
import type { DispatchMetrics } from './dispatch-metrics.js';
import type { VehicleLocks } from './vehicle-locks.js';

/** What allocating needs; built once in the composition root. */
export interface ServeDeps {
  db: Db;
  locks: VehicleLocks;
  relay: OutboxRelay;
  logger: Logger;
  metrics: DispatchMetrics;
}

/** What the dispatch domain functions need: the above and this process's serving rounds. */
export interface DispatchDeps extends ServeDeps {
  /** Serving after releases and registrations, coalesced (see createServeRounds). */
  serveRounds: (key: string) => Promise<void>;
}
