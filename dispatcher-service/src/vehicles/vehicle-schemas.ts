import { z } from 'zod';
import { AppError, cityName, positiveId } from '@delivery/common';

const vehicleNumber = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?$/,
    'letters, digits, spaces and dashes, starting and ending with a letter or digit',
  );
/** One definition of a city in every service (common/src/cities.ts). */
const city = cityName;

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

/** Response shapes, for the API document (never parsed). */
export const vehicleListing = z.array(z.object({ vehicle_number: vehicleNumber, city }));
export const registeredVehicle = z.object({ id: positiveId, vehicle_number: vehicleNumber, city });
export const vehicleAssignment = z.object({
  vehicle_number: vehicleNumber,
  city,
  orderId: positiveId,
  orderNumber: z.string(),
});
export const releasedVehicle = vehicleAssignment.extend({ status: z.literal('DELIVERED') });

/** The optional body of a release: the order the client means to deliver. */
export const releaseBody = z.strictObject({ orderId: positiveId }).optional();

/** The ETag of a vehicle's current assignment: If-Match on it makes a release conditional. */
export function assignmentTag(orderId: number): string {
  return `"order-${orderId}"`;
}

const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e]*)"$/;

/**
 * The orders an If-Match header names (strong comparison: weak tags and tags of something else
 * name none). `*` asks only that the vehicle carries an order, which every release needs anyway.
 */
export function ordersInIfMatch(header: string | undefined): Set<number> | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const orders = new Set<number>();
  for (const raw of header.split(',')) {
    const tag = ENTITY_TAG.exec(raw.trim());
    if (!tag)
      throw new AppError('validation_failed', `If-Match is not a list of entity tags: ${header}`, 400);
    const id = /^order-(\d{1,10})$/.exec(tag[2]!)?.[1];
    if (!tag[1] && id) orders.add(Number(id));
  }
  return orders;
}

/** An Idempotency-Key header: a structured-field string ("…") or a bare token, 1–255 visible ASCII. */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = /^"(.*)"$/.exec(header.trim())?.[1] ?? header.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key))
    throw new AppError('validation_failed', 'Idempotency-Key must be 1–255 visible ASCII characters', 400);
  return key;
}
