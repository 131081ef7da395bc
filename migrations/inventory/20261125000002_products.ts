import type { Knex } from '@delivery/common';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('products', (t) => {
    t.increments('id');
    t.string('name', 200).notNullable();
    // Unsigned: even a bug that skipped the `stock >= ?` guard could not store a negative stock.
    t.integer('stock').unsigned().notNullable().defaultTo(0);
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    t.datetime('updated_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('products');
}
