import type { Knex } from 'knex';
import { addProcessedEventsAgeIndex, dropProcessedEventsAgeIndex } from '@delivery/common';

/** An index on processed_events.processed_at, for the retention job (see common/src/shared-tables.ts). */
export async function up(db: Knex): Promise<void> {
  await addProcessedEventsAgeIndex(db);
}

export async function down(db: Knex): Promise<void> {
  await dropProcessedEventsAgeIndex(db);
}
