import type { Knex } from 'knex';

/**
 * The normalized keys compare byte for byte. Under the database's default collation
 * (utf8mb4_unicode_ci, MySQL 8's utf8mb4_0900_ai_ci alike) accents are ignored and every
 * character outside the BMP weighs the same, so 'kōbe' = 'kobe' and '😀' = '😁': a vehicle of one
 * city served orders of another, and its listing showed the other's vehicles. keys.ts already
 * folds case and spaces, so the key columns need no collation of their own.
 */
const KEYS: [table: string, column: string, length: number][] = [
  ['vehicles', 'vehicle_key', 32],
  ['vehicles', 'city_key', 100],
  ['assignments', 'city_key', 100],
  ['waiting_orders', 'city_key', 100],
  ['city_locks', 'city_key', 100],
];

export async function up(db: Knex): Promise<void> {
  for (const [table, column, length] of KEYS) {
    await db.raw(
      `ALTER TABLE ?? MODIFY ?? VARCHAR(${length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL`,
      [table, column],
    );
  }
}

export async function down(db: Knex): Promise<void> {
  // Back to the table's default collation, as the columns were created.
  for (const [table, column, length] of KEYS) {
    await db.raw(`ALTER TABLE ?? MODIFY ?? VARCHAR(${length}) NOT NULL`, [table, column]);
  }
}
