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

const { values } = parseArgs({ options: { gaps: { type: 'string' } } });
const gaps = (values.gaps ?? '1,1,40,40,1,70').split(',').map(Number);
const ORDERS = 'http://127.0.0.1:3001';
const INVENTORY = 'http://127.0.0.1:3002';
const DISPATCHER = 'http://127.0.0.1:3003';
const productId = 990_001;
const city = `Quiet-${randomUUID().slice(0, 8)}`;
// MariaDB's count of connections ever opened, read on one connection held for the whole run.
const server = await mysql.createConnection(process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306');
async function connectionsOpened(): Promise<number> {
  const [rows] = await server.query("SHOW GLOBAL STATUS LIKE 'Connections'");
  return Number((rows as { Value: string }[])[0]!.Value);
}

async function send(method: string, url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// A product with stock to spare and a vehicle for every order, so nothing waits but the system.
const created = await send('POST', `${INVENTORY}/products`, {
  id: productId,
  name: 'Quiet gaps',
  stock: 1_000_000,
});
if (created.status === 409) await send('PATCH', `${INVENTORY}/products/${productId}`, { stock: 1_000_000 });
for (let i = 0; i < gaps.length; i++) {
  const res = await send('POST', `${DISPATCHER}/dispatch-locations`, {
    vehicle_number: `${city}-${i}`,
    city,
  });
  if (res.status !== 201) throw new Error(`vehicle: ${res.status} ${await res.text()}`);
}

console.log(
  `city ${city}; gap s, POST ms, created→DISPATCHED ms (order-service's clock), DB connections opened`,
);
for (const gap of gaps) {
  await new Promise((r) => setTimeout(r, gap * 1_000));
  const opened = await connectionsOpened();
  const t0 = performance.now();
  const res = await send('POST', `${ORDERS}/orders`, {
    customerId: 1,
    city,
    items: [{ productId, price: 1, quantity: 1 }],
  });
  const answered = performance.now() - t0;
  const { id } = (await res.json()) as { id: number };
  let dispatched = 0;
  for (;;) {
    const order = (await (await fetch(`${ORDERS}/orders/${id}`)).json()) as {
      status: string;
      createdAt: string;
      updatedAt: string;
    };
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
