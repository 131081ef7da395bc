import type { Knex } from 'knex';
import { dropProcessedEventsTable, restoreProcessedEventsTable } from '@delivery/common';

/**
 * inventory-service's consumers are idempotent by the reservation, one per order, and its
 * cancelled_at (see reserve-stock.ts and return-stock.ts), not by event id.
 */
export async function up(db: Knex): Promise<void> {
  await dropProcessedEventsTable(db);
}

export async function down(db: Knex): Promise<void> {
  await restoreProcessedEventsTable(db);
}
