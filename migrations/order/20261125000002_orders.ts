import type { Knex } from '@delivery/common';

/** A migration is history: the status list is spelled out here, not imported from the service. */
const STATUSES = ['PENDING', 'CONFIRMED', 'DISPATCHED', 'DELIVERED', 'REJECTED'];

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('orders', (t) => {
    t.bigIncrements('id');
    // Derived from the id inside the inserting transaction, so NULL is never visible.
    t.string('order_number', 32).nullable().unique('orders_order_number_unique');
    t.integer('customer_id').unsigned().notNullable();
    // A _ci collation makes `city = ?` case-insensitive on MariaDB and MySQL alike.
    t.string('city', 100).notNullable().collate('utf8mb4_unicode_ci');
    t.enu('status', STATUSES).notNullable().defaultTo('PENDING');
    t.decimal('total_amount', 12, 2).notNullable();
    t.string('vehicle_number', 100).nullable();
    t.string('rejection_reason', 500).nullable();
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    t.datetime('updated_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    // GET /orders filters by city and/or status, newest (highest id) first.
    t.index(['city', 'id'], 'orders_city_idx');
    t.index(['status', 'id'], 'orders_status_idx');
  });
  await db.schema.createTable('order_items', (t) => {
    t.bigIncrements('id');
    t.bigInteger('order_id').unsigned().notNullable().references('id').inTable('orders').onDelete('CASCADE');
    t.integer('product_id').unsigned().notNullable();
    t.decimal('price', 12, 2).notNullable();
    t.integer('quantity').unsigned().notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('order_items');
  await db.schema.dropTableIfExists('orders');
}
