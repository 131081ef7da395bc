import type { Logger } from '@delivery/common';
import { findVehicleByKey } from '../vehicles/vehicles-repository.js';
import {
  activeOrdersOfVehicles,
  findActiveAssignment,
  listActiveLocks,
  stillActive,
} from './assignments-repository.js';
import { allocateWaitingOrders } from './allocate-waiting-orders.js';
import { tryLockCity } from './city-locks-repository.js';
import type { AllocationDeps } from './dispatch-deps.js';
import { citiesWithWaitingAndFree } from './waiting-orders-repository.js';

/** A lock younger than this may belong to an allocation whose transaction has not committed yet. */
const FRESH_LOCK_MS = 60_000;
const PAGE = 500;

export interface ReconcileReport {
  removed: number;
  restored: number;
  allocated: number;
}

export interface LockReconciler {
  start(): void;
  stop(): Promise<void>;
  /** One full pass; what start() runs at once and then every interval. */
  reconcile(): Promise<ReconcileReport>;
}

/**
 * Keeps Redis in line with the assignments, the source of truth (Redis keeps nothing on disk
 * here): removes locks without an active assignment, re-creates missing ones, then serves
 * cities where an order waits beside a free vehicle (a crash between a release and its
 * re-allocation). Safe to run in every instance at once: it only compare-and-deletes and SET NXs.
 */
export interface LockReconcilerOptions {
  intervalMs: number;
  logger: Logger;
  /**
   * Whether Redis is connected. While it is not (still connecting at boot, or an outage, which
   * the Redis client logs itself) a pass is not tried, and no failure is logged for it: the
   * reconciler looks again every READY_POLL_MS and runs as soon as Redis is back, when its locks
   * most likely need restoring.
   */
  redisReady?: () => boolean;
}

const READY_POLL_MS = 250;

export function createLockReconciler(
  deps: AllocationDeps,
  { intervalMs, logger, redisReady = () => true }: LockReconcilerOptions,
): LockReconciler {
  const log = logger.child({ module: 'lock-reconciler' });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let stopped = true;
  let failures = 0;

  async function reconcile(): Promise<ReconcileReport> {
    const removed = await removeStrayLocks(deps);
    const restored = await restoreMissingLocks(deps);
    const allocated = (await allocateWaitingOrders(deps, await citiesWithWaitingAndFree(deps.db))).length;
    if (removed + restored + allocated > 0)
      log.warn({ removed, restored, allocated }, 'vehicle locks reconciled');
    return { removed, restored, allocated };
  }

  async function tick(): Promise<void> {
    if (!redisReady()) {
      if (!stopped) timer = setTimeout(() => void tick(), READY_POLL_MS);
      return;
    }
    running = reconcile().then(
      () => true,
      (err: unknown) => {
        log.warn({ err, failures }, 'lock reconciliation failed; retrying soon');
        return false;
      },
    );
    failures = (await running) ? 0 : failures + 1;
    // MySQL still connecting at boot must not postpone the start-up pass a whole interval.
    const delay = failures > 0 ? Math.min(intervalMs, 500 * 2 ** Math.min(failures, 6)) : intervalMs;
    if (!stopped) timer = setTimeout(() => void tick(), delay);
  }

  return {
    reconcile,
    start() {
      if (!stopped) return;
      stopped = false;
      void tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

async function removeStrayLocks(deps: AllocationDeps): Promise<number> {
  let removed = 0;
  for await (const batch of deps.locks.scan()) {
    const active = await activeOrdersOfVehicles(
      deps.db,
      batch.map((l) => l.vehicleKey),
    );
    for (const { vehicleKey, orderId, pttl } of batch) {
      if (orderId === null || String(active.get(vehicleKey)) === orderId) continue;
      const gone = isFresh(pttl, deps.locks.ttlMs)
        ? await removeIfNoAllocationRuns(deps, vehicleKey, orderId)
        : await deps.locks.release(vehicleKey, orderId);
      if (gone) removed += 1;
    }
  }
  return removed;
}

/**
 * A young lock without its assignment may belong to an allocation that has not committed yet.
 * Allocations hold their city's row lock from taking the Redis lock until they commit, so if
 * that row lock is free now, none is in flight: the lock was left by one that died (an instance
 * killed between SET NX and COMMIT) and would hide a free vehicle until it ages. Remove it now.
 */
async function removeIfNoAllocationRuns(
  deps: AllocationDeps,
  vehicleKey: string,
  orderId: string,
): Promise<boolean> {
  const vehicle = await findVehicleByKey(deps.db, vehicleKey);
  if (!vehicle) return false;
  return deps.db.transaction(
    async (trx) => {
      if (!(await tryLockCity(trx, vehicle.city_key))) return false;
      const assignment = await findActiveAssignment(trx, vehicle.id);
      if (assignment && String(assignment.order_id) === orderId) return false;
      return deps.locks.release(vehicleKey, orderId);
    },
    { isolationLevel: 'read committed' },
  );
}

function isFresh(pttl: number, ttlMs: number): boolean {
  return pttl > 0 && pttl > ttlMs - FRESH_LOCK_MS;
}

async function restoreMissingLocks(deps: AllocationDeps): Promise<number> {
  let restored = 0;
  for (let afterId = 0; ;) {
    const page = await listActiveLocks(deps.db, afterId, PAGE);
    const results = await Promise.all(page.map((a) => deps.locks.create(a.vehicle_key, Number(a.order_id))));
    const made = page.filter((_, i) => results[i]);
    // A release may have closed one of these between our read and our SET: undo those.
    const active = await stillActive(
      deps.db,
      made.map((a) => Number(a.assignment_id)),
    );
    for (const a of made) {
      if (active.has(Number(a.assignment_id))) restored += 1;
      else await deps.locks.release(a.vehicle_key, Number(a.order_id));
    }
    if (page.length < PAGE) return restored;
    afterId = Number(page[page.length - 1]!.assignment_id);
  }
}
