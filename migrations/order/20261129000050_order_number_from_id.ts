import type { Knex } from 'knex';

/**
 * The order number is derived from the id when a row is read (orderNumberFor), so it is no longer
 * stored: storing it took an UPDATE after every INSERT, because the id is only known once the row
 * is in, and neither MySQL nor MariaDB lets a generated column use an auto-increment id.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('orders', (t) => {
    t.dropUnique(['order_number'], 'orders_order_number_unique');
  });
  await db.schema.alterTable('orders', (t) => {
    t.dropColumn('order_number');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('orders', (t) => {
    t.string('order_number', 32).nullable().after('id');
  });
  await db.raw(
    `UPDATE orders SET order_number = CONCAT('ORD-', LPAD(id, GREATEST(6, CHAR_LENGTH(id)), '0'))`,
  );
  await db.schema.alterTable('orders', (t) => {
    t.unique(['order_number'], { indexName: 'orders_order_number_unique' });
  });
}
