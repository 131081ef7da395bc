import type { Express } from 'express';
import { outboxRule, type EventHandler, type RetentionRule, type ServiceRuntime } from '@delivery/common';
import { createApp } from './app.js';
import type { DispatcherSettings } from './config.js';
import { createAllocationRounds } from './dispatch/allocate-waiting-orders.js';
import type { AllocationDeps, DispatchDeps } from './dispatch/dispatch-deps.js';
import { createDispatchMetrics } from './dispatch/dispatch-metrics.js';
import { finishedOrderHandlers } from './dispatch/finish-orders.js';
import { createLockReconciler, type LockReconciler } from './dispatch/lock-reconciler.js';
import { orderConfirmedHandler } from './dispatch/order-confirmed-consumer.js';
import { releaseRequestsRule } from './dispatch/release-requests.js';
import { createVehicleLocks } from './dispatch/vehicle-locks.js';
import { createOrdersClient, type OrdersClient } from './orders-client/orders-client.js';
import type { RedisClient } from './redis.js';

export interface Dispatcher {
  app: Express;
  handlers: EventHandler[];
  workers: { start(): void; stop(): Promise<void> }[];
  /**
   * Tables the retention job keeps bounded. finished_orders is not one of them: it guards against
   * an order.confirmed arriving after the order finished, and how late that can be is bounded by
   * order-service's outbox, not by the topic's retention.
   */
  retention: RetentionRule[];
  dispatch: DispatchDeps;
  orders: OrdersClient;
  reconciler: LockReconciler;
}

/**
 * The dispatcher's parts on top of a runtime and a Redis client: the HTTP app, the handlers of
 * order.confirmed, order.delivered and order.cancelled, and the lock reconciler. main.ts wires
 * these into runService; tests build the same parts on a test runtime.
 */
export function createDispatcher(
  rt: ServiceRuntime,
  redis: RedisClient,
  settings: DispatcherSettings,
): Dispatcher {
  const allocation: AllocationDeps = {
    db: rt.db,
    relay: rt.relay,
    logger: rt.logger.child({ module: 'dispatch' }),
    locks: createVehicleLocks(redis, {
      prefix: settings.REDIS_KEY_PREFIX,
      ttlMs: settings.VEHICLE_LOCK_TTL_MS,
    }),
    metrics: createDispatchMetrics(rt.metrics.registry, rt.db),
  };
  const dispatch: DispatchDeps = { ...allocation, vehicleAvailable: createAllocationRounds(allocation) };
  const orders = createOrdersClient({
    baseUrl: settings.ORDER_SERVICE_URL,
    logger: rt.logger,
    internalToken: settings.INTERNAL_TOKEN,
  });
  const reconciler = createLockReconciler(dispatch, {
    intervalMs: settings.LOCK_RECONCILE_INTERVAL_MS,
    logger: rt.logger,
    redisReady: () => redis.isReady,
  });
  return {
    app: createApp({ ...rt, redis, dispatch, orders, internalToken: settings.INTERNAL_TOKEN }),
    handlers: [orderConfirmedHandler(dispatch), ...finishedOrderHandlers(dispatch)],
    workers: [reconciler],
    retention: [outboxRule(rt.config), releaseRequestsRule],
    dispatch,
    orders,
    reconciler,
  };
}
