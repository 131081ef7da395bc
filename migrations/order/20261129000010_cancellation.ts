import type { Knex } from '@delivery/common';

/** A migration is history: the status lists are spelled out here, not imported from the service. */
const BEFORE = ['PENDING', 'CONFIRMED', 'DISPATCHED', 'DELIVERED', 'REJECTED'];
const AFTER = [...BEFORE, 'CANCELLED'];

const enumOf = (values: string[]) => `ENUM(${values.map((v) => `'${v}'`).join(', ')})`;

/** CANCELLED joins the lifecycle (DESIGN.md §2); the customer's reason is kept with the order. */
export async function up(db: Knex): Promise<void> {
  await db.raw(`ALTER TABLE orders MODIFY status ${enumOf(AFTER)} NOT NULL DEFAULT 'PENDING'`);
  await db.schema.alterTable('orders', (t) => {
    t.string('cancellation_reason', 500).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('orders', (t) => {
    t.dropColumn('cancellation_reason');
  });
  // Cancelled orders cannot be expressed before this migration: they go back as REJECTED.
  await db.raw(
    "UPDATE orders SET status = 'REJECTED', rejection_reason = 'cancelled' WHERE status = 'CANCELLED'",
  );
  await db.raw(`ALTER TABLE orders MODIFY status ${enumOf(BEFORE)} NOT NULL DEFAULT 'PENDING'`);
}
