import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cityKey } from '@delivery/common';
import type { TestRuntime } from '@delivery/common/testing';
import * as migration from '../../migrations/order/20261129000030_orders_city_key.js';
import { createOrderRuntime } from './support.js';

describe('migration orders.city_key', () => {
  let rt: TestRuntime;

  before(async () => {
    rt = await createOrderRuntime();
  });
  after(() => rt?.close());

  const columns = async () =>
    ((await rt.db.raw('SHOW COLUMNS FROM orders'))[0] as { Field: string }[]).map((c) => c.Field);
  const indexes = async () => [
    ...new Set(
      ((await rt.db.raw('SHOW INDEX FROM orders'))[0] as { Key_name: string }[]).map((i) => i.Key_name),
    ),
  ];

  it('up backfills the key of every existing order across several batches; down removes the column', async () => {
    await migration.down(rt.db);
    assert.ok(!(await columns()).includes('city_key'), 'down drops city_key');
    assert.ok(!(await indexes()).includes('orders_city_key_idx'), 'down drops its index');

    const cities = ['  Colombo ', 'K\u014Dbe', 'Ko\u0304be', 'NEW   york', '\u{1F30D}'.repeat(100)];
    const rows = Array.from({ length: 2_503 }, (_, i) => ({
      customer_id: 1,
      city: cities[i % cities.length]!,
      total_amount: '1.00',
    }));
    for (let i = 0; i < rows.length; i += 500) await rt.db('orders').insert(rows.slice(i, i + 500));

    await migration.up(rt.db);

    const stored = (await rt.db('orders').select('city', 'city_key')) as { city: string; city_key: string }[];
    assert.equal(stored.length, rows.length);
    for (const row of stored) assert.equal(row.city_key, cityKey(row.city), JSON.stringify(row.city));
    const [[column]] = (await rt.db.raw("SHOW FULL COLUMNS FROM orders WHERE Field = 'city_key'")) as [
      { Null: string; Collation: string }[],
    ];
    assert.equal(column?.Null, 'NO');
    assert.equal(column?.Collation, 'utf8mb4_bin');
    assert.ok((await indexes()).includes('orders_city_key_idx'));
  });
});
