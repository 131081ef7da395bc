/**
 * What an order costs in time when it comes after a quiet spell: one order after each gap of
 * --gaps seconds (default 1,1,40,40,1,70), against a running `make up`, each timed from the POST
 * to its answer, and from the order's createdAt to its updatedAt once DISPATCHED (the order is
 * polled every 50 ms, lightly, and the times are order-service's own), with the database
 * connections the system opened for it (MariaDB's Connections). A trickle of one order a
 * minute is a real load; this shows whether it pays for something a busy system keeps warm.
 *
 *   npx tsx bench/experiments/quiet-gaps.ts [--gaps 1,40,1]
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import { JsonClient, MYSQL_URL, SERVICES, createFixture } from '../system.js';

const { values } = parseArgs({ options: { gaps: { type: 'string' } } });
const gaps = (values.gaps ?? '1,1,40,40,1,70').split(',').map(Number);
const orders = new JsonClient(SERVICES.order, 1);
const inventory = new JsonClient(SERVICES.inventory, 1);
const dispatcher = new JsonClient(SERVICES.dispatcher, 1);
// A product with stock to spare and a vehicle for every order, so nothing waits but the system.
const fixture = await createFixture({ inventory, dispatcher }, `quiet-${randomUUID().slice(0, 8)}`, {
  cities: 1,
  vehiclesPerCity: gaps.length,
  products: 1,
  stockPerProduct: gaps.length,
});
const city = fixture.cities[0]!;
const productId = fixture.products[0]!.id;
// MariaDB's count of connections ever opened, read on one connection held for the whole run.
const server = await mysql.createConnection(MYSQL_URL);
async function connectionsOpened(): Promise<number> {
  const [rows] = await server.query("SHOW GLOBAL STATUS LIKE 'Connections'");
  return Number((rows as { Value: string }[])[0]!.Value);
}

console.log(
  `city ${city}; gap s, POST ms, created→DISPATCHED ms (order-service's clock), DB connections opened`,
);
for (const gap of gaps) {
  await new Promise((r) => setTimeout(r, gap * 1_000));
  const opened = await connectionsOpened();
  const t0 = performance.now();
  const placed = await orders.call<{ id: number }>('POST', '/orders', {
    customerId: 1,
    city,
    items: [{ productId, price: 1, quantity: 1 }],
  });
  const answered = performance.now() - t0;
  if (placed.status !== 201) throw new Error(`POST /orders answered ${placed.status}`);
  const { id } = placed.body;
  let dispatched = 0;
  for (;;) {
    const { body: order } = await orders.call<{ status: string; createdAt: string; updatedAt: string }>(
      'GET',
      `/orders/${id}`,
    );
    if (order.status === 'DISPATCHED') {
      dispatched = Date.parse(order.updatedAt) - Date.parse(order.createdAt);
      break;
    }
    if (order.status === 'REJECTED') throw new Error(`order ${id} rejected`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // Settled: order-service applies order.dispatched last, and nothing of this order is left.
  const newConnections = (await connectionsOpened()) - opened;
  console.log(
    `${String(gap).padStart(5)}  ${answered.toFixed(1).padStart(7)}  ${dispatched.toFixed(1).padStart(8)}  ${String(newConnections).padStart(4)}`,
  );
}
await server.end();
await Promise.all([orders, inventory, dispatcher].map((c) => c.close()));
