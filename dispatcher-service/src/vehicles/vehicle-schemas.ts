import { z } from 'zod';
import { nameText } from '@delivery/common';

const vehicleNumber = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?$/,
    'letters, digits, spaces and dashes, starting and ending with a letter or digit',
  );
const city = nameText(100);

export const registerVehicleBody = z.object({ vehicle_number: vehicleNumber, city }).strict();
export type RegisterVehicleInput = z.infer<typeof registerVehicleBody>;

export const cityParams = z.object({ city }).strict();

/** `available=true`: only vehicles without an order; `false`: only allocated ones; absent: all. */
export const listVehiclesQuery = z.object({ available: z.enum(['true', 'false']).optional() }).strict();

export function availabilityFilter({ available }: z.infer<typeof listVehiclesQuery>): AvailabilityFilter {
  if (available === undefined) return 'all';
  return available === 'true' ? 'free' : 'allocated';
}

export type AvailabilityFilter = 'all' | 'free' | 'allocated';

export const releaseParams = z.object({ vehicle_number: vehicleNumber }).strict();
export const releaseInCityParams = z.object({ vehicle_number: vehicleNumber, city }).strict();
export type ReleaseVehicleInput = { vehicle_number: string; city?: string };

/** Response shapes, for the API document. */
export const registeredVehicle = z.object({
  id: z.number().int(),
  vehicle_number: z.string(),
  city: z.string(),
});
export const vehicleListing = z.array(z.object({ vehicle_number: z.string(), city: z.string() }));
export const releasedVehicle = z.object({
  vehicle_number: z.string(),
  city: z.string(),
  orderId: z.number().int(),
  orderNumber: z.string(),
  status: z.literal('DELIVERED'),
});
