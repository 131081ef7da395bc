/**
 * Test support of order-service: where its migrations live (and inventory's, for the saga).
 * Envelopes, topic readers, HTTP calls and row counts come from @delivery/common/testing.
 */
import { fileURLToPath } from 'node:url';

export const ORDER_MIGRATIONS = fileURLToPath(new URL('../../migrations/order', import.meta.url));
export const INVENTORY_MIGRATIONS = fileURLToPath(new URL('../../migrations/inventory', import.meta.url));
