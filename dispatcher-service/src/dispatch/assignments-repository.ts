import { randomUUID } from 'node:crypto';
import { duplicateKeyMessage, type Db } from '@delivery/common';

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

// The hot statements are plain SQL: knex's builder costs about as much CPU as the round trip.
const SELECT = 'id, order_id, order_number, vehicle_id, city_key, status';

export type NewAssignment = Pick<Assignment, 'order_id' | 'order_number' | 'vehicle_id' | 'city_key'>;

/**
 * One multi-row INSERT; the unique indexes decide: one active assignment per vehicle, one
 * assignment per order. A refused statement inserts no row at all, and the result names the
 * index that refused it.
 */
export async function insertAssignments(
  db: Db,
  rows: readonly NewAssignment[],
): Promise<InsertAssignmentResult> {
  if (rows.length === 0) return 'inserted';
  // Stamped by this process's clock, like released_at and a release's arrival (see releaseVehicle).
  const at = new Date();
  try {
    await db.raw(
      `INSERT INTO assignments (order_id, order_number, vehicle_id, city_key, status, created_at)
       VALUES ${rows.map(() => "(?, ?, ?, ?, 'ACTIVE', ?)").join(', ')}`,
      rows.flatMap((r) => [r.order_id, r.order_number, r.vehicle_id, r.city_key, at]),
    );
    return 'inserted';
  } catch (err) {
    const message = duplicateKeyMessage(err);
    if (message?.includes('assignments_active_vehicle_unique')) return 'vehicle_taken';
    if (message?.includes('assignments_order_id_unique')) return 'order_assigned';
    throw err;
  }
}

export async function findActiveAssignment(db: Db, vehicleId: number): Promise<Assignment | undefined> {
  const [rows] = (await db.raw(`SELECT ${SELECT} FROM assignments WHERE active_vehicle_id = ? LIMIT 1`, [
    vehicleId,
  ])) as [Assignment[]];
  return rows[0];
}

/**
 * Closes the assignments and marks their vehicles released, in one statement (atomic on its own,
 * so no transaction needed). One closed by someone else first is left as it is; returns the ids
 * this call closed, so exactly one closer reports each release. Each statement signs its rows:
 * only when another closer got some of them first does that take a second read.
 */
export async function closeAssignments(
  db: Db,
  ids: readonly number[],
  at = new Date(),
): Promise<Set<number>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Set();
  const token = randomUUID();
  const [{ affectedRows }] = (await db.raw(
    `UPDATE assignments a JOIN vehicles v ON v.id = a.vehicle_id
     SET a.status = 'RELEASED', a.released_at = ?, a.closed_by = ?, v.last_released_at = ?, v.updated_at = ?
     WHERE a.id IN (?) AND a.status = 'ACTIVE'`,
    [at, token, at, at, unique],
  )) as [{ affectedRows: number }];
  // A multi-table UPDATE counts the vehicle rows too: two rows per assignment closed.
  if (affectedRows === unique.length * 2) return new Set(unique);
  const [rows] = (await db.raw('SELECT id FROM assignments WHERE id IN (?) AND closed_by = ?', [
    unique,
    token,
  ])) as [{ id: number }[]];
  return new Set(rows.map((r) => Number(r.id)));
}

/** A past or present assignment, as a release answers with it. */
export interface AssignmentRef {
  id: number;
  order_id: number;
  order_number: string;
  vehicle_id: number;
  status: 'ACTIVE' | 'RELEASED';
}

const REF = 'id, order_id, order_number, vehicle_id, status';

/**
 * The assignment the vehicle carried at `at` and that has been released since (the oldest, should
 * two share the millisecond): what a release that arrived at `at` ended, or would have.
 */
export async function findReleasedSince(
  db: Db,
  vehicleId: number,
  at: Date,
): Promise<AssignmentRef | undefined> {
  const [rows] = (await db.raw(
    `SELECT ${REF} FROM assignments
     WHERE vehicle_id = ? AND released_at >= ? AND created_at < ? ORDER BY id LIMIT 1`,
    [vehicleId, at, at],
  )) as [AssignmentRef[]];
  return rows[0];
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
