import type { Knex } from 'knex';
import { dropProcessedEventsTable, restoreProcessedEventsTable } from '@delivery/common';

/**
 * order-service's consumers are idempotent by the order's status (a repeated event finds the
 * order moved on: see apply-inventory-result.ts and record-dispatch.ts), not by event id.
 */
export async function up(db: Knex): Promise<void> {
  await dropProcessedEventsTable(db);
}

export async function down(db: Knex): Promise<void> {
  await restoreProcessedEventsTable(db);
}
