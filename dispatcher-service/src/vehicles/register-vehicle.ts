import { AppError, cityKey } from '@delivery/common';
import { serveWaitingOrdersAfter } from '../dispatch/allocate-vehicle.js';
import type { DispatchDeps } from '../dispatch/dispatch-deps.js';
import { vehicleKey } from '../keys.js';
import type { RegisterVehicleInput } from './vehicle-schemas.js';
import { insertVehicle } from './vehicles-repository.js';

export interface RegisteredVehicle {
  id: number;
  vehicle_number: string;
  city: string;
}

/** Registers the vehicle, then lets it serve the oldest order waiting in its city. */
export async function registerVehicle(
  deps: DispatchDeps,
  input: RegisterVehicleInput,
): Promise<RegisteredVehicle> {
  const row = {
    vehicle_number: input.vehicle_number,
    vehicle_key: vehicleKey(input.vehicle_number),
    city: input.city,
    city_key: cityKey(input.city),
  };
  let id: number;
  try {
    id = await insertVehicle(deps.db, row);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ER_DUP_ENTRY') throw err;
    throw new AppError('vehicle_exists', `Vehicle ${input.vehicle_number} is registered already`, 409);
  }
  await serveWaitingOrdersAfter(deps, row.city_key, 'registration');
  return { id, vehicle_number: row.vehicle_number, city: row.city };
}
