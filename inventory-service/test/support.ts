/**
 * Test support of inventory-service: where its migrations live, its test runtime. Envelopes,
 * topic readers, HTTP calls and row counts come from @delivery/common/testing.
 */
import { fileURLToPath } from 'node:url';
import type { Db, Envelope } from '@delivery/common';
import { createTestRuntime, envelope, type TestRuntimeOptions } from '@delivery/common/testing';
import { findProductById, insertProduct } from '../src/products/products-repository.js';

export const INVENTORY_MIGRATIONS = fileURLToPath(new URL('../../migrations/inventory', import.meta.url));

/** A runtime on a fresh inventory database of its own, migrated. */
export function createInventoryRuntime(
  options: Omit<TestRuntimeOptions, 'name' | 'database' | 'migrationsDir'> = {},
) {
  return createTestRuntime({
    name: 'inventory-service',
    database: 'inventory',
    migrationsDir: INVENTORY_MIGRATIONS,
    ...options,
  });
}

/** Products for a test, each with an id of its own, and their stock as it is now. */
export function productsIn(db: () => Db, firstId = 1_000) {
  let nextId = firstId;
  return {
    product: (stock: number) => insertProduct(db(), { id: nextId++, name: 'Thing', stock }),
    stockOf: async (id: number) => (await findProductById(db(), id))?.stock,
  };
}

/** order.created envelopes of orders numbered from 1, each line a product and a quantity. */
export function orderCreatedBuilder() {
  let nextOrderId = 1;
  return (lines: [productId: number, quantity: number][]): Envelope<'order.created'> => {
    const orderId = nextOrderId++;
    return envelope('order.created', {
      orderId,
      orderNumber: `ORD-${String(orderId).padStart(6, '0')}`,
      customerId: 1,
      city: 'Colombo',
      items: lines.map(([productId, quantity]) => ({ productId, quantity, price: '1.00' })),
      totalAmount: '1.00',
    });
  };
}

/** order-service's cancel of the order `created` placed, in the same flow (correlation id). */
export function orderCancelledOf({
  data,
  correlationId,
}: Envelope<'order.created'>): Envelope<'order.cancelled'> {
  return envelope(
    'order.cancelled',
    { orderId: data.orderId, orderNumber: data.orderNumber, city: data.city, reason: 'customer asked' },
    { correlationId },
  );
}
