import type { Knex } from '@delivery/common';

/**
 * A cancelled order's reservation: CANCELLED holds no stock. It is either a reservation whose
 * stock was given back (its items stay, as the record of what was returned) or a tombstone
 * written by a cancel that overtook order.created (no items), which the unique order_id then
 * keeps from ever being reserved. cancelled_at marks that the cancel was applied, on a REJECTED
 * reservation too, so a second cancel of the order gives nothing back.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('reservations', (t) => {
    t.enu('status', ['RESERVED', 'REJECTED', 'CANCELLED']).notNullable().alter();
    t.datetime('cancelled_at', { precision: 3 }).nullable();
  });
}

/** CANCELLED cannot be told apart any more: such an order stays decided and holding no stock, as REJECTED. */
export async function down(db: Knex): Promise<void> {
  await db('reservations')
    .where({ status: 'CANCELLED' })
    .update({ status: 'REJECTED', reason: db.raw('COALESCE(reason, ?)', ['Order cancelled']) });
  await db.schema.alterTable('reservations', (t) => {
    t.enu('status', ['RESERVED', 'REJECTED']).notNullable().alter();
    t.dropColumn('cancelled_at');
  });
}
