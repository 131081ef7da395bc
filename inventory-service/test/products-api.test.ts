import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, countRows, listen, type ErrorBody, type TestRuntime } from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import type { Product } from '../src/products/products-repository.js';
import { createInventoryRuntime } from './support.js';

type ProductJson = Omit<Product, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string };

describe('inventory-service products API', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;
  const api = <T = ProductJson>(method: string, path: string, body?: unknown) =>
    call<T>(method, `${server.url}${path}`, body);
  const productCount = async () => (await countRows(rt.db, ['products'])).products;

  before(async () => {
    rt = await createInventoryRuntime();
    server = await listen(createApp(rt));
  });
  after(async () => {
    await server?.close();
    await rt?.close();
  });

  it('POST with an id creates that product: 201 with id, trimmed name, stock and timestamps; GET returns it', async () => {
    const res = await api('POST', '/products', { id: 101, name: '  Rice 5kg ', stock: 20 });
    assert.equal(res.status, 201);
    assert.deepEqual(Object.keys(res.body).sort(), ['createdAt', 'id', 'name', 'stock', 'updatedAt']);
    assert.deepEqual(
      { id: res.body.id, name: res.body.name, stock: res.body.stock },
      { id: 101, name: 'Rice 5kg', stock: 20 },
    );
    assert.ok(!Number.isNaN(Date.parse(res.body.createdAt)));
    assert.deepEqual((await api('GET', '/products/101')).body, res.body);
  });

  it('POST without an id gets the next one; stock 0 is allowed', async () => {
    const res = await api('POST', '/products', { name: 'Salt', stock: 0 });
    assert.equal(res.status, 201);
    assert.ok(res.body.id > 101);
    assert.equal(res.body.stock, 0);
  });

  it('POST with an id that exists is 409 product_exists and changes nothing', async () => {
    await api('POST', '/products', { id: 202, name: 'Dhal', stock: 5 });
    const res = await api<ErrorBody>('POST', '/products', { id: 202, name: 'Other', stock: 99 });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'product_exists');
    assert.deepEqual(
      { ...(await api('GET', '/products/202')).body, createdAt: '', updatedAt: '' },
      {
        id: 202,
        name: 'Dhal',
        stock: 5,
        createdAt: '',
        updatedAt: '',
      },
    );
  });

  it('GET /products lists every product by id', async () => {
    const res = await api<ProductJson[]>('GET', '/products');
    assert.equal(res.status, 200);
    const ids = res.body.map((p) => p.id);
    assert.ok(ids.includes(101) && ids.includes(202));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
  });

  it('GET of an unknown product is 404 product_not_found; a non-numeric id is 400', async () => {
    const missing = await api<ErrorBody>('GET', '/products/999999');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'product_not_found');
    assert.equal((await api('GET', '/products/abc')).status, 400);
  });

  const invalidCreates: [string, unknown, string][] = [
    ['name missing', { stock: 1 }, 'name'],
    ['name empty', { name: '', stock: 1 }, 'name'],
    ['name all spaces', { name: '   ', stock: 1 }, 'name'],
    ['name of 201 characters', { name: 'n'.repeat(201), stock: 1 }, 'name'],
    ['stock missing', { name: 'Tea' }, 'stock'],
    ['stock -1', { name: 'Tea', stock: -1 }, 'stock'],
    ['stock 1.5', { name: 'Tea', stock: 1.5 }, 'stock'],
    ['stock "5"', { name: 'Tea', stock: '5' }, 'stock'],
    ['id 0', { id: 0, name: 'Tea', stock: 1 }, 'id'],
    ['id "abc"', { id: 'abc', name: 'Tea', stock: 1 }, 'id'],
    ['an unknown field', { name: 'Tea', stock: 1, price: 3 }, 'price'],
    ['a JSON array body', [{ name: 'Tea', stock: 1 }], '(body)'],
  ];
  for (const [name, body, field] of invalidCreates) {
    it(`POST with ${name}: 400 validation_failed naming ${field}, nothing written`, async () => {
      const before = await productCount();
      const res = await api<ErrorBody>('POST', '/products', body);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'validation_failed');
      assert.ok(
        res.body.error.details?.some((d) => d.path === field),
        JSON.stringify(res.body.error.details),
      );
      assert.equal(await productCount(), before);
    });
  }

  it('PATCH changes the name, the stock or both and moves updatedAt', async () => {
    const created = (await api('POST', '/products', { name: 'Flour', stock: 3 })).body;
    const renamed = await api('PATCH', `/products/${created.id}`, { name: 'Flour 1kg' });
    assert.equal(renamed.status, 200);
    assert.deepEqual([renamed.body.name, renamed.body.stock], ['Flour 1kg', 3]);
    const restocked = await api('PATCH', `/products/${created.id}`, { stock: 40 });
    assert.deepEqual([restocked.body.name, restocked.body.stock], ['Flour 1kg', 40]);
    const both = await api('PATCH', `/products/${created.id}`, { name: 'Flour', stock: 0 });
    assert.deepEqual([both.body.name, both.body.stock], ['Flour', 0]);
    assert.ok(Date.parse(both.body.updatedAt) >= Date.parse(created.updatedAt));
  });

  const invalidPatches: [string, unknown][] = [
    ['no field', {}],
    ['stock -1', { stock: -1 }],
    ['stock 2.5', { stock: 2.5 }],
    ['an empty name', { name: ' ' }],
    ['an unknown field', { stock: 1, id: 5 }],
  ];
  for (const [name, body] of invalidPatches) {
    it(`PATCH with ${name} is 400 and changes nothing`, async () => {
      const res = await api<ErrorBody>('PATCH', '/products/101', body);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'validation_failed');
      const product = (await api('GET', '/products/101')).body;
      assert.deepEqual([product.name, product.stock], ['Rice 5kg', 20]);
    });
  }

  it('PATCH of an unknown product is 404 and creates nothing', async () => {
    const before = await productCount();
    const res = await api<ErrorBody>('PATCH', '/products/999999', { stock: 5 });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'product_not_found');
    assert.equal(await productCount(), before);
  });
});
