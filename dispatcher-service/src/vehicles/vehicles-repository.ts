import type { Db, Knex } from '@delivery/common';
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

export async function insertVehicle(
  db: Db,
  vehicle: Omit<Vehicle, 'id'>,
  trx?: Knex.Transaction,
): Promise<number> {
  const [id] = await (trx ?? db)('vehicles').insert(vehicle);
  return Number(id);
}

export async function findVehicleByKey(
  db: Db,
  key: string,
  trx?: Knex.Transaction,
): Promise<Vehicle | undefined> {
  const [rows] = (await (trx ?? db).raw(
    `SELECT ${VEHICLE_COLUMNS} FROM vehicles WHERE vehicle_key = ? LIMIT 1`,
    [key],
  )) as [Vehicle[]];
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

/**
 * One page of the city's vehicles without an active assignment, least recently released first
 * (never released first of all, then registration order). Busy vehicles are filtered out in
 * SQL through the unique index on the active assignment, so the walk tries O(1) locks however
 * many vehicles of the city are busy.
 */
export async function findFreeVehicles(
  trx: Knex.Transaction,
  key: string,
  limit: number,
  offset: number,
): Promise<Vehicle[]> {
  // Plain SQL: it runs for every allocation, and knex's builder costs as much CPU as the round trip.
  const [rows] = (await trx.raw(
    `SELECT v.id, v.vehicle_number, v.vehicle_key, v.city, v.city_key FROM vehicles v
     WHERE v.city_key = ?
       AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.active_vehicle_id = v.id)
     ORDER BY v.last_released_at, v.id LIMIT ? OFFSET ?`,
    [key, limit, offset],
  )) as [Vehicle[]];
  return rows;
}

export async function countVehiclesOfCity(db: Db, key: string, trx?: Knex.Transaction): Promise<number> {
  const row = (await (trx ?? db)('vehicles').where({ city_key: key }).count({ n: '*' }).first()) as
    { n: number } | undefined;
  return Number(row?.n ?? 0);
}

export async function markVehicleReleased(db: Db, vehicleId: number, trx?: Knex.Transaction): Promise<void> {
  await (trx ?? db).raw('UPDATE vehicles SET last_released_at = NOW(3), updated_at = NOW(3) WHERE id = ?', [
    vehicleId,
  ]);
}
