/**
 * Test support of inventory-service: where its migrations live. Envelopes, topic readers, HTTP
 * calls and row counts come from @delivery/common/testing.
 */
import { fileURLToPath } from 'node:url';

export const INVENTORY_MIGRATIONS = fileURLToPath(new URL('../../migrations/inventory', import.meta.url));
