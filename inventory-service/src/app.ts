import type { Express } from 'express';
import { createHttpApp, dbReadiness, kafkaReadiness, type ServiceRuntime } from '@delivery/common';
import { registerProductRoutes } from './products/products-routes.js';
import { productRouteDocs } from './products/products-api-docs.js';

export type AppDeps = Pick<
  ServiceRuntime,
  'logger' | 'metrics' | 'db' | 'admin' | 'relay' | 'readinessDetails'
>;

export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: { database: dbReadiness(deps.db), kafka: kafkaReadiness(deps.admin) },
    readinessDetails: deps.readinessDetails,
    api: { title: 'inventory-service', version: '1.0.0', routes: productRouteDocs },
    routes: (app) => registerProductRoutes(app, deps),
  });
}
