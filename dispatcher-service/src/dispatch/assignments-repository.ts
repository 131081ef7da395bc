import type { Db, Knex } from '@delivery/common';

export interface Assignment {
  id: number;
  order_id: number;
  order_number: string;
  vehicle_id: number;
  city_key: string;
  status: 'ACTIVE' | 'RELEASED';
}

export interface ActiveLock {
  assignment_id: number;
  order_id: number;
  vehicle_key: string;
}

export type InsertAssignmentResult = 'inserted' | 'vehicle_taken' | 'order_assigned';

const COLUMNS = ['id', 'order_id', 'order_number', 'vehicle_id', 'city_key', 'status'] as const;

function duplicateKey(err: unknown): string | undefined {
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === 'ER_DUP_ENTRY' && typeof message === 'string' ? message : undefined;
}

/** The unique indexes decide: one active assignment per vehicle, one assignment per order. */
export async function insertAssignment(
  trx: Knex.Transaction,
  row: Pick<Assignment, 'order_id' | 'order_number' | 'vehicle_id' | 'city_key'>,
): Promise<InsertAssignmentResult> {
  try {
    await trx('assignments').insert({ ...row, status: 'ACTIVE' });
    return 'inserted';
  } catch (err) {
    const message = duplicateKey(err);
    if (message?.includes('assignments_active_vehicle_unique')) return 'vehicle_taken';
    if (message?.includes('assignments_order_id_unique')) return 'order_assigned';
    throw err;
  }
}

export async function findAssignmentByOrder(
  db: Db,
  orderId: number,
  trx?: Knex.Transaction,
): Promise<Assignment | undefined> {
  return (await (trx ?? db)('assignments').select(COLUMNS).where({ order_id: orderId }).first()) as
    Assignment | undefined;
}

export async function findActiveAssignment(
  db: Db,
  vehicleId: number,
  trx?: Knex.Transaction,
): Promise<Assignment | undefined> {
  return (await (trx ?? db)('assignments')
    .select(COLUMNS)
    .where({ active_vehicle_id: vehicleId })
    .first()) as Assignment | undefined;
}

/** False when another release closed it first. */
export async function closeAssignment(db: Db, id: number, trx?: Knex.Transaction): Promise<boolean> {
  const q = trx ?? db;
  const n = await q('assignments')
    .where({ id, status: 'ACTIVE' })
    .update({ status: 'RELEASED', released_at: q.fn.now(3) });
  return n === 1;
}

/** The active assignments of the given vehicles: vehicle key → order id. */
export async function activeOrdersOfVehicles(db: Db, vehicleKeys: string[]): Promise<Map<string, number>> {
  if (vehicleKeys.length === 0) return new Map();
  const rows = (await db('assignments as a')
    .join('vehicles as v', 'v.id', 'a.active_vehicle_id')
    .select('v.vehicle_key', 'a.order_id')
    .whereIn('v.vehicle_key', vehicleKeys)) as { vehicle_key: string; order_id: number }[];
  return new Map(rows.map((r) => [r.vehicle_key, Number(r.order_id)]));
}

/** Active assignments after `afterId`, by id: the reconciler pages through them. */
export async function listActiveLocks(db: Db, afterId: number, limit: number): Promise<ActiveLock[]> {
  return (await db('assignments as a')
    .join('vehicles as v', 'v.id', 'a.active_vehicle_id')
    .select('a.id as assignment_id', 'a.order_id', 'v.vehicle_key')
    .where('a.id', '>', afterId)
    .orderBy('a.id')
    .limit(limit)) as ActiveLock[];
}

/** Which of these assignments are still active. */
export async function stillActive(db: Db, assignmentIds: number[]): Promise<Set<number>> {
  if (assignmentIds.length === 0) return new Set();
  const rows = (await db('assignments')
    .select('id')
    .whereIn('id', assignmentIds)
    .where({ status: 'ACTIVE' })) as { id: number }[];
  return new Set(rows.map((r) => Number(r.id)));
}
