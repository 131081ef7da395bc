import type { Knex } from 'knex';

/**
 * The retention job deletes processed_events rows by age, a batch at a time
 * (`WHERE processed_at < … ORDER BY processed_at LIMIT 1000`): without this index each batch
 * would scan, and lock, the whole table.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('processed_events', (t) => {
    t.index(['processed_at'], 'processed_events_processed_at_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('processed_events', (t) => {
    t.dropIndex(['processed_at'], 'processed_events_processed_at_idx');
  });
}
