import { cityKey, type Db } from '@delivery/common';
import type { AvailabilityFilter } from './vehicle-schemas.js';
import { listVehiclesOfCity, type VehicleListing } from './vehicles-repository.js';

export function listVehicles(db: Db, city: string, filter: AvailabilityFilter): Promise<VehicleListing[]> {
  return listVehiclesOfCity(db, cityKey(city), filter);
}
