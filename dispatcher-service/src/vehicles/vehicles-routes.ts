import type { Express } from 'express';
import { listVehicles } from './list-vehicles.js';
import { registerVehicle, type RegistrationDeps } from './register-vehicle.js';
import { availabilityFilter, cityParams, listVehiclesQuery, registerVehicleBody } from './vehicle-schemas.js';

/** The vehicle registry's routes; a vehicle's assignment and its release are dispatch's (release-routes.ts). */
export function vehicleRoutes(app: Express, deps: RegistrationDeps): void {
  app.post('/dispatch-locations', async (req, res) => {
    const input = registerVehicleBody.parse(req.body);
    res.status(201).json(await registerVehicle(deps, input));
  });

  app.get('/dispatch-locations/:city', async (req, res) => {
    const { city } = cityParams.parse(req.params);
    const filter = availabilityFilter(listVehiclesQuery.parse(req.query));
    res.json(await listVehicles(deps.db, city, filter));
  });
}
