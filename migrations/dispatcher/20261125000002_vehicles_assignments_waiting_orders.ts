import type { Knex } from 'knex';

/**
 * The dispatcher's own tables (DESIGN.md §6). Keys are normalized copies (vehicle upper-case,
 * city lower-case, spaces collapsed) so matching and uniqueness never depend on how a client
 * typed them, and so every lookup is an index lookup.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('vehicles', (t) => {
    t.increments('id').unsigned();
    t.string('vehicle_number', 32).notNullable();
    t.string('vehicle_key', 32).notNullable().unique('vehicles_vehicle_key_unique');
    t.string('city', 100).notNullable();
    t.string('city_key', 100).notNullable();
    // NULL (never released) sorts first: the allocation walk serves the least recently released.
    t.datetime('last_released_at', { precision: 3 }).nullable();
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    t.datetime('updated_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    t.index(['city_key', 'last_released_at', 'id'], 'vehicles_city_walk_idx');
  });

  await db.schema.createTable('assignments', (t) => {
    t.bigIncrements('id').unsigned();
    t.bigInteger('order_id').unsigned().notNullable().unique('assignments_order_id_unique');
    t.string('order_number', 64).notNullable();
    t.integer('vehicle_id').unsigned().notNullable().references('id').inTable('vehicles');
    t.string('city_key', 100).notNullable();
    t.enu('status', ['ACTIVE', 'RELEASED']).notNullable().defaultTo('ACTIVE');
    // The final guard against double allocation: at most one ACTIVE row per vehicle, whatever
    // Redis says. MySQL and MariaDB have no partial indexes, but both index a stored generated
    // column, and a UNIQUE index ignores NULLs.
    t.specificType('active_vehicle_id', "INT UNSIGNED AS (IF(status = 'ACTIVE', vehicle_id, NULL)) STORED");
    t.unique(['active_vehicle_id'], { indexName: 'assignments_active_vehicle_unique' });
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    t.datetime('released_at', { precision: 3 }).nullable();
    t.index(['status', 'id'], 'assignments_status_idx');
  });

  await db.schema.createTable('waiting_orders', (t) => {
    t.bigIncrements('id').unsigned();
    t.bigInteger('order_id').unsigned().notNullable().unique('waiting_orders_order_id_unique');
    t.string('order_number', 64).notNullable();
    t.string('city', 100).notNullable();
    t.string('city_key', 100).notNullable();
    // The flow's correlation id: the late allocation and its event belong to the original request.
    t.string('correlation_id', 128).notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    // Oldest first per city; id is the arrival order.
    t.index(['city_key', 'id'], 'waiting_orders_city_idx');
  });

  // One row per city. Its row lock (SELECT ... FOR UPDATE) serializes allocation in that city
  // across dispatcher instances, so waiting orders are served strictly oldest first.
  await db.schema.createTable('city_locks', (t) => {
    t.string('city_key', 100).primary();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('city_locks');
  await db.schema.dropTableIfExists('waiting_orders');
  await db.schema.dropTableIfExists('assignments');
  await db.schema.dropTableIfExists('vehicles');
}
