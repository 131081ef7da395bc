import type { Db, Logger, OutboxRelay } from '@delivery/common';
import type { DispatchMetrics } from './dispatch-metrics.js';
import type { KeyedRounds } from './keyed-rounds.js';
import type { VehicleLocks } from './vehicle-locks.js';

/** What the dispatch domain functions need; built once in the composition root. */
export interface DispatchDeps {
  db: Db;
  locks: VehicleLocks;
  relay: OutboxRelay;
  logger: Logger;
  metrics: DispatchMetrics;
  /** This process's serving rounds per city after releases and registrations (see serveWaitingOrdersAfter). */
  serveRounds: KeyedRounds;
}
