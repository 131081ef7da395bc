import { AppError, cityKey, type Db } from '@delivery/common';
import { vehicleKey } from '../keys.js';
import type { AvailabilityFilter } from './vehicle-schemas.js';
import { findVehiclesWithOrders, listVehiclesOfCity, type VehicleListing } from './vehicles-repository.js';

export function listVehicles(db: Db, city: string, filter: AvailabilityFilter): Promise<VehicleListing[]> {
  return listVehiclesOfCity(db, cityKey(city), filter);
}

/** The order the vehicle carries now (what If-Match on a release compares with). */
export async function currentAssignment(db: Db, vehicleNumber: string) {
  const found = (await findVehiclesWithOrders(db, [vehicleKey(vehicleNumber)])).values().next().value;
  if (!found) throw new AppError('vehicle_not_found', `No vehicle ${vehicleNumber}`, 404);
  const { vehicle, assignment } = found;
  if (!assignment) throw new AppError('no_assignment', `${vehicle.vehicle_number} carries no order`, 404);
  return {
    vehicle_number: vehicle.vehicle_number,
    city: vehicle.city,
    orderId: assignment.order_id,
    orderNumber: assignment.order_number,
  };
}
