import type { Knex } from 'knex';
import { createProcessedEventsTable, dropProcessedEventsTable } from '@delivery/common';

/**
 * The dispatcher never wrote processed_events: its consumers are idempotent by their own keys
 * (one assignment and one queue row per order, finished_orders), not by event id.
 */
export async function up(db: Knex): Promise<void> {
  await dropProcessedEventsTable(db);
}

export async function down(db: Knex): Promise<void> {
  await createProcessedEventsTable(db);
}
