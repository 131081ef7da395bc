import { AppError, cityKey, isDuplicateKeyError, type Db } from '@delivery/common';
import { vehicleKey } from '../keys.js';
import type { RegisterVehicleInput } from './vehicle-schemas.js';
import { insertVehicle } from './vehicles-repository.js';

export interface RegisteredVehicle {
  id: number;
  vehicle_number: string;
  city: string;
}

export interface RegistrationDeps {
  db: Db;
  /**
   * Told of each vehicle once it is registered, before the answer: dispatch gives it to the
   * oldest order waiting in its city (wired in app.ts, so vehicles never import dispatch).
   */
  onVehicleAdded: (cityKey: string) => Promise<void>;
}

/** Registers the vehicle, then lets it serve the oldest order waiting in its city. */
export async function registerVehicle(
  deps: RegistrationDeps,
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
    if (!isDuplicateKeyError(err)) throw err;
    throw new AppError('vehicle_exists', `Vehicle ${input.vehicle_number} is registered already`, 409);
  }
  await deps.onVehicleAdded(row.city_key);
  return { id, vehicle_number: row.vehicle_number, city: row.city };
}
