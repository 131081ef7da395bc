import type { Knex } from '@delivery/common';

/**
 * One decision per order: RESERVED with the stock it took, or REJECTED with the reason.
 * UNIQUE(order_id) makes a redelivered order.created unable to take stock twice.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('reservations', (t) => {
    t.bigIncrements('id');
    t.bigInteger('order_id').unsigned().notNullable().unique('reservations_order_id_unique');
    t.string('order_number', 64).notNullable();
    t.enu('status', ['RESERVED', 'REJECTED']).notNullable();
    t.string('reason', 500).nullable();
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
  });
  await db.schema.createTable('reservation_items', (t) => {
    t.bigInteger('reservation_id')
      .unsigned()
      .notNullable()
      .references('id')
      .inTable('reservations')
      .onDelete('CASCADE');
    // No foreign key to products: a reservation is history and outlives a product row.
    t.integer('product_id').unsigned().notNullable();
    t.integer('quantity').unsigned().notNullable();
    t.primary(['reservation_id', 'product_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('reservation_items');
  await db.schema.dropTableIfExists('reservations');
}
