import type { Express } from 'express';
import { createHttpApp, dbReadiness, kafkaReadiness, type ServiceRuntime } from '@delivery/common';
import type { DispatchDeps } from './dispatch/dispatch-deps.js';
import { releaseRoutes } from './dispatch/release-routes.js';
import type { OrdersClient } from './orders-client/orders-client.js';
import { redisReadiness, type RedisClient } from './redis.js';
import { vehicleRouteDocs } from './vehicles/vehicles-api-docs.js';
import { vehicleRoutes } from './vehicles/vehicles-routes.js';

export interface AppDeps extends Pick<
  ServiceRuntime,
  'logger' | 'metrics' | 'db' | 'admin' | 'readinessDetails'
> {
  redis: RedisClient;
  dispatch: DispatchDeps;
  orders: OrdersClient;
  /** INTERNAL_TOKEN: when set, the release endpoints require it. */
  internalToken?: string;
}

export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: {
      database: dbReadiness(deps.db),
      kafka: kafkaReadiness(deps.admin),
      redis: redisReadiness(deps.redis),
    },
    readinessDetails: deps.readinessDetails,
    routes: (app) => {
      // Registering a vehicle serves its city's waiting orders: dispatch is handed in, never imported.
      const onVehicleAdded = (key: string) => deps.dispatch.vehicleAvailable(key, 'registration');
      vehicleRoutes(app, { db: deps.db, onVehicleAdded });
      releaseRoutes(app, deps);
    },
    api: { title: 'dispatcher-service', version: '1.0.0', routes: vehicleRouteDocs },
  });
}
