import type { Db } from '@delivery/common';
import type { AvailabilityFilter } from './vehicle-schemas.js';

export interface Vehicle {
  id: number;
  vehicle_number: string;
  vehicle_key: string;
  city: string;
  city_key: string;
}

export interface VehicleListing {
  vehicle_number: string;
  city: string;
}

const VEHICLE_COLUMNS = 'id, vehicle_number, vehicle_key, city, city_key';

export async function insertVehicle(db: Db, vehicle: Omit<Vehicle, 'id'>): Promise<number> {
  const [id] = await db('vehicles').insert(vehicle);
  return Number(id);
}

export async function findVehicleByKey(db: Db, key: string): Promise<Vehicle | undefined> {
  const [rows] = (await db.raw(`SELECT ${VEHICLE_COLUMNS} FROM vehicles WHERE vehicle_key = ? LIMIT 1`, [
    key,
  ])) as [Vehicle[]];
  return rows[0];
}

/** Registration order; `free` = no active assignment, `allocated` = one. */
export async function listVehiclesOfCity(
  db: Db,
  key: string,
  filter: AvailabilityFilter,
): Promise<VehicleListing[]> {
  const all = db('vehicles as v')
    .select('v.vehicle_number', 'v.city')
    .where('v.city_key', key)
    .orderBy('v.id');
  const active = db('assignments as a').select(db.raw('1')).whereRaw('a.active_vehicle_id = v.id');
  const query =
    filter === 'free' ? all.whereNotExists(active) : filter === 'allocated' ? all.whereExists(active) : all;
  const rows = (await query) as VehicleListing[];
  return rows.map(({ vehicle_number, city }) => ({ vehicle_number, city }));
}

/** The vehicle and the order it carries, if any. */
export interface VehicleWithOrder {
  vehicle: Vehicle;
  assignment?: { id: number; order_id: number; order_number: string; created_at: Date };
}

/**
 * The vehicles and their active assignments in one statement, by vehicle key (unknown keys are
 * absent): what every release reads first.
 */
export async function findVehiclesWithOrders(
  db: Db,
  keys: readonly string[],
): Promise<Map<string, VehicleWithOrder>> {
  const [rows] = (await db.raw(
    `SELECT v.id, v.vehicle_number, v.vehicle_key, v.city, v.city_key,
            a.id AS assignment_id, a.order_id, a.order_number, a.created_at
     FROM vehicles v LEFT JOIN assignments a ON a.active_vehicle_id = v.id
     WHERE v.vehicle_key IN (?)`,
    [[...new Set(keys)]],
  )) as [
    (Vehicle & { assignment_id: number | null; order_id: number; order_number: string; created_at: Date })[],
  ];
  return new Map(
    rows.map(({ assignment_id, order_id, order_number, created_at, ...vehicle }) => [
      vehicle.vehicle_key,
      {
        vehicle,
        assignment:
          assignment_id === null
            ? undefined
            : { id: Number(assignment_id), order_id: Number(order_id), order_number, created_at },
      },
    ]),
  );
}

export interface FreeVehiclePage {
  key: string;
  limit: number;
  /** Vehicles to pass over: their locks were refused earlier in the same transaction. */
  skip: readonly number[];
}

/**
 * The first `limit` vehicles of each city without an active assignment, least recently
 * released first (never released first of all, then registration order), in one statement;
 * grouped by city in that order. Busy vehicles are filtered out in SQL through the unique index
 * on the active assignment, so the walk tries O(1) locks however many vehicles of the city are
 * busy.
 */
export async function findFreeVehicles(db: Db, pages: readonly FreeVehiclePage[]): Promise<Vehicle[]> {
  if (pages.length === 0) return [];
  const part = (page: FreeVehiclePage) =>
    `(SELECT v.id, v.vehicle_number, v.vehicle_key, v.city, v.city_key, v.last_released_at FROM vehicles v
      WHERE v.city_key = ?${page.skip.length > 0 ? ' AND v.id NOT IN (?)' : ''}
        AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.active_vehicle_id = v.id)
      ORDER BY v.last_released_at, v.id LIMIT ?)`;
  // Plain SQL: it runs for every batch of orders, and knex's builder costs as much CPU as the round trip.
  const [rows] = (await db.raw(
    `${pages.map(part).join(' UNION ALL ')} ORDER BY city_key, last_released_at, id`,
    pages.flatMap((p) => (p.skip.length > 0 ? [p.key, [...p.skip], p.limit] : [p.key, p.limit])),
  )) as [(Vehicle & { last_released_at: unknown })[]];
  return rows.map(({ id, vehicle_number, vehicle_key, city, city_key }) => ({
    id,
    vehicle_number,
    vehicle_key,
    city,
    city_key,
  }));
}

/** Which of these cities have any vehicle registered. */
export async function citiesWithVehicles(db: Db, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const [rows] = (await db.raw('SELECT DISTINCT city_key FROM vehicles WHERE city_key IN (?)', [
    [...keys],
  ])) as [{ city_key: string }[]];
  return new Set(rows.map((r) => r.city_key));
}
