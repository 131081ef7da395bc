import type { Express } from 'express';
import { createHttpApp, dbReadiness, kafkaReadiness, type ServiceRuntime } from '@delivery/common';
import { registerOrderRoutes } from './orders/orders-routes.js';

export type AppDeps = Pick<ServiceRuntime, 'logger' | 'metrics' | 'db' | 'admin' | 'relay'>;

export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: dbReadiness(deps.db), kafka: kafkaReadiness(deps.admin) },
    routes: (app) => registerOrderRoutes(app, deps),
  });
}
