import type { Knex } from 'knex';

/**
 * What makes a release safe to repeat and a delivery by hand or a cancellation reach the
 * dispatcher (DESIGN.md §3, §4):
 * - `release_requests`: one row per Idempotency-Key, holding the first answer;
 * - `finished_orders`: orders delivered or cancelled, so an order.confirmed that arrives after
 *   them never queues or allocates the order;
 * - `assignments.closed_by`: which statement closed an assignment, so exactly one closer logs it;
 *   and an index to find the assignment a vehicle carried at a given moment.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('release_requests', (t) => {
    t.string('idempotency_key', 255).primary();
    // The release the key was first used for; the same key for another release is refused.
    t.string('fingerprint', 200).notNullable();
    t.smallint('status_code').unsigned().nullable();
    t.text('response').nullable();
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    t.datetime('completed_at', { precision: 3 }).nullable();
    t.index(['created_at'], 'release_requests_created_idx');
  });
  await db.raw(
    'ALTER TABLE release_requests MODIFY idempotency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL',
  );

  await db.schema.createTable('finished_orders', (t) => {
    t.bigInteger('order_id').unsigned().primary();
    t.enu('outcome', ['DELIVERED', 'CANCELLED']).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
  });

  await db.schema.alterTable('assignments', (t) => {
    t.string('closed_by', 36).nullable();
    t.index(['vehicle_id', 'released_at'], 'assignments_vehicle_released_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('assignments', (t) => {
    // MySQL dropped the foreign key's own index when up's index could serve it: give it back
    // first, or the foreign key refuses to lose its index.
    t.index(['vehicle_id'], 'assignments_vehicle_id_foreign');
    t.dropIndex(['vehicle_id', 'released_at'], 'assignments_vehicle_released_idx');
    t.dropColumn('closed_by');
  });
  await db.schema.dropTableIfExists('finished_orders');
  await db.schema.dropTableIfExists('release_requests');
}
