import { strict as assert } from 'node:assert';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { migrateLatest, migrateRollbackAll, type Db } from '@delivery/common';
import { createTestDatabase } from '@delivery/common/testing';

const SERVICES = ['order', 'inventory', 'dispatcher'] as const;
const KNEX_TABLES = ['knex_migrations', 'knex_migrations_lock'];

/** Every table's CREATE statement, by name: the whole schema as MySQL sees it. */
async function schemaOf(db: Db): Promise<Map<string, string>> {
  const [tables] = (await db.raw('SHOW TABLES')) as [Record<string, string>[]];
  const schema = new Map<string, string>();
  for (const row of tables) {
    const table = Object.values(row)[0]!;
    if (KNEX_TABLES.includes(table)) continue;
    const [[created]] = (await db.raw('SHOW CREATE TABLE ??', [table])) as [Record<string, string>[]];
    // AUTO_INCREMENT=n records rows once inserted, not the schema.
    schema.set(table, created!['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, ''));
  }
  return schema;
}

describe('migrations', () => {
  for (const service of SERVICES) {
    it(`${service}: down undoes every migration and up rebuilds the same schema`, async () => {
      const dir = fileURLToPath(new URL(`../migrations/${service}`, import.meta.url));
      const testDb = await createTestDatabase(service, dir);
      try {
        const built = await schemaOf(testDb.db);
        assert.ok(built.size > 0, 'the migrations create tables');

        await migrateRollbackAll(testDb.db, dir);
        assert.deepEqual([...(await schemaOf(testDb.db)).keys()], [], 'no table left after rolling back');

        const applied = await migrateLatest(testDb.db, dir);
        assert.ok(applied.length > 0, 'every migration applies again');
        assert.deepEqual(await schemaOf(testDb.db), built);
      } finally {
        await testDb.drop();
      }
    });
  }
});
