import type { Express } from 'express';
import { createHttpApp, dbReadiness, kafkaReadiness, type ServiceRuntime } from '@delivery/common';
import { registerOrderRoutes } from './orders/orders-routes.js';
import { orderRouteDocs } from './orders/orders-api-docs.js';

export type AppDeps = Pick<
  ServiceRuntime,
  'logger' | 'metrics' | 'db' | 'admin' | 'relay' | 'readinessDetails'
> & {
  /** INTERNAL_TOKEN: when set, PATCH /orders/:id and POST /orders/deliveries require it. */
  internalToken?: string;
};

export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: dbReadiness(deps.db), kafka: kafkaReadiness(deps.admin) },
    readinessDetails: deps.readinessDetails,
    api: { title: 'order-service', version: '1.0.0', routes: orderRouteDocs },
    routes: (app) => registerOrderRoutes(app, deps, deps.internalToken),
  });
}
