import type { Express, RequestHandler } from 'express';
import { requireInternalToken, type Db } from '@delivery/common';
import type { DispatchDeps } from '../dispatch/dispatch-deps.js';
import type { OrdersClient } from '../orders-client/orders-client.js';
import { listVehicles } from './list-vehicles.js';
import { registerVehicle } from './register-vehicle.js';
import { vehicleReleaser } from './release-vehicle.js';
import {
  availabilityFilter,
  cityParams,
  listVehiclesQuery,
  registerVehicleBody,
  releaseInCityParams,
  releaseParams,
} from './vehicle-schemas.js';

export interface VehicleRouteDeps {
  db: Db;
  dispatch: DispatchDeps;
  orders: OrdersClient;
  internalToken?: string;
}

export function vehicleRoutes(app: Express, { db, dispatch, orders, internalToken }: VehicleRouteDeps): void {
  app.post('/dispatch-locations', async (req, res) => {
    const input = registerVehicleBody.parse(req.body);
    res.status(201).json(await registerVehicle(dispatch, input));
  });

  app.get('/dispatch-locations/:city', async (req, res) => {
    const { city } = cityParams.parse(req.params);
    const filter = availabilityFilter(listVehiclesQuery.parse(req.query));
    res.json(await listVehicles(db, city, filter));
  });

  // Both forms: the design's, and the one in the assignment's curl example (city checked too).
  const releaseVehicle = vehicleReleaser({ ...dispatch, orders });
  const release = (params: typeof releaseParams | typeof releaseInCityParams): RequestHandler => {
    return async (req, res) => {
      res.json(await releaseVehicle(params.parse(req.params)));
    };
  };
  // A release delivers an order: service-to-service when INTERNAL_TOKEN is set.
  const internal = requireInternalToken(internalToken);
  app.patch('/dispatch-locations/:vehicle_number/release', internal, release(releaseParams));
  app.patch('/dispatch-locations/:vehicle_number/:city/release', internal, release(releaseInCityParams));
}
