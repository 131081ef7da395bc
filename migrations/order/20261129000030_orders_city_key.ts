import type { Knex } from '@delivery/common';

/**
 * One city identity across services (DESIGN.md §3 "Cities"): orders are listed by the city's key,
 * compared byte for byte like the dispatcher's keys. The city column's utf8mb4_unicode_ci ignored
 * accents, so GET /orders?city=Kobe listed the orders of Kōbe.
 *
 * A migration is history: the folding is copied here, not imported. It is cityKey() of
 * common/src/cities.ts as it was when this migration was written.
 */
const cityKey = (city: string) => city.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();

/**
 * The column holds 100 code points. Cities accepted before the key was held to that limit may
 * fold longer ('İ' folds to two code points); their key is cut so the migration cannot fail.
 */
const fit = (key: string) => [...key].slice(0, 100).join('');

/** Rows backfilled per statement: bounded, so no statement locks the whole table or runs long. */
const BATCH = 1_000;

async function backfill(db: Knex): Promise<void> {
  for (let after = 0; ;) {
    const rows = (await db('orders')
      .select('id', 'city')
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)) as { id: number; city: string }[];
    const last = rows.at(-1);
    if (!last) return;
    await db.raw(
      `UPDATE orders SET city_key = CASE id ${rows.map(() => 'WHEN ? THEN ?').join(' ')} END WHERE id IN (?)`,
      [...rows.flatMap((r) => [r.id, fit(cityKey(r.city))]), rows.map((r) => r.id)],
    );
    after = last.id;
  }
}

export async function up(db: Knex): Promise<void> {
  await db.raw(
    'ALTER TABLE orders ADD COLUMN city_key VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL AFTER city',
  );
  await backfill(db);
  // The city filter now reads city_key: the old (city, id) index would only cost every insert.
  await db.raw(
    `ALTER TABLE orders
       MODIFY city_key VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
       ADD INDEX orders_city_key_idx (city_key, id),
       DROP INDEX orders_city_idx`,
  );
}

export async function down(db: Knex): Promise<void> {
  await db.raw(
    `ALTER TABLE orders
       ADD INDEX orders_city_idx (city, id),
       DROP INDEX orders_city_key_idx,
       DROP COLUMN city_key`,
  );
}
