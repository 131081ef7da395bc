/**
 * Test support of order-service: where its migrations live (and inventory's, for the saga).
 * Envelopes, topic readers, HTTP calls and row counts come from @delivery/common/testing.
 */
import { fileURLToPath } from 'node:url';
import { call, createTestRuntime, envelope, type TestRuntimeOptions } from '@delivery/common/testing';
import type { Order } from '../src/orders/orders-repository.js';

export const ORDER_MIGRATIONS = fileURLToPath(new URL('../../migrations/order', import.meta.url));
/** order-service's runtime on its own test database and topic namespace (createTestRuntime). */
export function createOrderRuntime(
  options: Omit<TestRuntimeOptions, 'name' | 'database' | 'migrationsDir'> = {},
) {
  return createTestRuntime({
    name: 'order-service',
    database: 'orders',
    migrationsDir: ORDER_MIGRATIONS,
    ...options,
  });
}

export const INVENTORY_MIGRATIONS = fileURLToPath(new URL('../../migrations/inventory', import.meta.url));

/** An order as the HTTP API answers it (dates as strings). */
export type OrderJson = Omit<Order, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string };

/** POST /orders of the fixture order (two of `productId` to Galle); the answer's body. */
export async function placeOrder(baseUrl: string, productId = 5): Promise<OrderJson> {
  const placed = await call<OrderJson>('POST', `${baseUrl}/orders`, {
    customerId: 7,
    city: 'Galle',
    items: [{ productId, price: 12.5, quantity: 2 }],
  });
  return placed.body;
}

/** inventory-service's answer about the order, as it publishes it. */
export const inventoryUpdated = (order: OrderJson, status: 'RESERVED' | 'REJECTED', reason?: string) =>
  envelope('order.inventory.updated', {
    orderId: order.id,
    orderNumber: order.orderNumber,
    status,
    ...(reason ? { reason } : {}),
  });

/** The dispatcher's order.dispatched for the order. */
export const dispatched = (order: OrderJson, vehicleNumber: string) =>
  envelope('order.dispatched', {
    orderId: order.id,
    orderNumber: order.orderNumber,
    vehicleNumber,
    city: order.city,
  });
