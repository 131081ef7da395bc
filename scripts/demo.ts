/**
 * `make demo`: the whole story over HTTP against a running `make up`. Each request and response
 * is printed; at the end, the services' own log lines for the orders of this run.
 *   --markdown <file>  also write the run as markdown (how docs/sample-logs.md is made)
 */
import { writeFileSync } from 'node:fs';
import { URLS, call, type JsonResponse } from './http-client.js';
import { formatLogLine, readServiceLogs } from './service-logs.js';

interface Order {
  id: number;
  orderNumber: string;
  status: string;
  city: string;
  vehicleNumber: string | null;
  rejectionReason: string | null;
}

const run = Date.now().toString(36);
const out: string[] = [];
let step = 0;

function print(text = ''): void {
  console.log(text);
  out.push(text);
}

function section(title: string): void {
  print(`\n## ${++step}. ${title}\n`);
}

async function show<T>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const requestId = `demo-${run}-${step}-${Math.random().toString(36).slice(2, 6)}`;
  const res = await call<T>(method, url, body, { 'x-request-id': requestId, ...headers });
  print('```http');
  const shown = Object.entries(headers)
    .map(([name, value]) => `\n${name}: ${value}`)
    .join('');
  print(`${method} ${url}${shown}${body === undefined ? '' : `\n${JSON.stringify(body)}`}`);
  print(`→ ${res.status}\n${JSON.stringify(res.body, null, 2)}`);
  print('```');
  return res;
}

async function until(id: number, done: (o: Order) => boolean, what: string): Promise<Order> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { body } = await call<Order>('GET', `${URLS.order}/orders/${id}`);
    if (done(body)) return body;
    if (Date.now() > deadline) throw new Error(`order ${id} did not become ${what}: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const placeOrder = (city: string, productId: number, quantity: number) =>
  show<Order>('POST', `${URLS.order}/orders`, {
    customerId: 1,
    city,
    items: [{ productId, price: 49.99, quantity }],
  });

async function main(): Promise<void> {
  print(`# Demo run ${run}`);
  section('Products: the assignment’s product 101, and one with a single unit in stock');
  await show('POST', `${URLS.inventory}/products`, { id: 101, name: 'Rice 5kg', stock: 500 });
  const scarce = await show<{ id: number }>('POST', `${URLS.inventory}/products`, {
    name: `Demo limited ${run}`,
    stock: 1,
  });

  section('Vehicles: register two in Galle, list Colombo as the assignment does');
  await show('POST', `${URLS.dispatcher}/dispatch-locations`, { vehicle_number: 'GLE-2001', city: 'Galle' });
  await show('POST', `${URLS.dispatcher}/dispatch-locations`, { vehicle_number: 'GLE-2002', city: 'Galle' });
  await show('GET', `${URLS.dispatcher}/dispatch-locations/Colombo`);

  // Vehicles left allocated by earlier orders would change the story; release them first.
  await settleCity('Colombo');
  await settleCity('Galle');

  section('An order in Colombo: PENDING → CONFIRMED → DISPATCHED');
  const colombo = (await placeOrder('Colombo', 101, 2)).body;
  print(`Waiting for ${colombo.orderNumber} to be dispatched…`);
  await until(colombo.id, (o) => o.status === 'DISPATCHED', 'DISPATCHED');
  await show('GET', `${URLS.order}/orders/${colombo.id}`);

  section('Galle runs out of vehicles: one order more than there are free vehicles');
  const free = (await show<unknown[]>('GET', `${URLS.dispatcher}/dispatch-locations/Galle?available=true`))
    .body;
  const galle: Order[] = [];
  for (let i = 0; i <= free.length; i++) galle.push((await placeOrder('Galle', 101, 1)).body);
  const dispatched: Order[] = [];
  for (const o of galle.slice(0, -1))
    dispatched.push(await until(o.id, (x) => x.status === 'DISPATCHED', 'DISPATCHED'));
  const waiting = galle.at(-1)!;
  await until(waiting.id, (o) => o.status === 'CONFIRMED', 'CONFIRMED');
  print(`${waiting.orderNumber} is CONFIRMED and waits: every vehicle in Galle is busy.`);
  await show('GET', `${URLS.dispatcher}/dispatch-locations/Galle?available=true`);

  section('Release one Galle vehicle: the waiting order takes it');
  const first = dispatched[0]!;
  // As a driver's app should: the order being delivered, and a key that makes a retry safe.
  await show(
    'PATCH',
    `${URLS.dispatcher}/dispatch-locations/${first.vehicleNumber}/galle/release`,
    releaseOf(first),
    releaseKey(first),
  );
  const taken = await until(waiting.id, (o) => o.status === 'DISPATCHED', 'DISPATCHED');
  await show('GET', `${URLS.order}/orders/${taken.id}`);
  await show('GET', `${URLS.order}/orders/${first.id}`);

  section('Cancel a dispatched order: its stock goes back, its vehicle serves the next waiting order');
  const behind = (await placeOrder('Galle', 101, 1)).body;
  await until(behind.id, (o) => o.status === 'CONFIRMED', 'CONFIRMED');
  print(`${behind.orderNumber} waits: every vehicle in Galle is busy again.`);
  const stockBefore = (await call<{ stock: number }>('GET', `${URLS.inventory}/products/101`)).body.stock;
  const cancelled = dispatched[1] ?? taken;
  await show('POST', `${URLS.order}/orders/${cancelled.id}/cancel`, {
    reason: 'customer changed their mind',
  });
  const servedNext = await until(behind.id, (o) => o.status === 'DISPATCHED', 'DISPATCHED');
  await show('GET', `${URLS.order}/orders/${servedNext.id}`);
  await stockBack(stockBefore + 1);
  await show('GET', `${URLS.inventory}/products/101`);

  section('An order for more than is in stock is REJECTED');
  const rejected = (await placeOrder('Colombo', scarce.body.id, 2)).body;
  await until(rejected.id, (o) => o.status === 'REJECTED', 'REJECTED');
  await show('GET', `${URLS.order}/orders/${rejected.id}`);

  section('Release the remaining vehicles of this run (so the demo can run again)');
  for (const o of [colombo, ...dispatched.slice(1), taken, servedNext].filter((x) => x.id !== cancelled.id)) {
    const current = await until(o.id, (x) => x.vehicleNumber !== null, 'dispatched');
    await show(
      'PATCH',
      `${URLS.dispatcher}/dispatch-locations/${current.vehicleNumber}/release`,
      releaseOf(current),
      releaseKey(current),
    );
  }

  section('What the services logged for these orders');
  const numbers = new Set([colombo, ...galle, behind, rejected].map((o) => o.orderNumber));
  print('```');
  for (const line of logLinesFor(numbers)) print(line);
  print('```');
}

interface Vehicle {
  vehicle_number: string;
}

/** Waits until inventory has given the cancelled order's stock back. */
async function stockBack(expected: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await call<{ stock: number }>('GET', `${URLS.inventory}/products/101`)).body.stock !== expected) {
    if (Date.now() > deadline) throw new Error(`the stock of 101 did not come back to ${expected}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The body and the key a safe release sends (README, "Releasing a vehicle safely"). */
const releaseOf = (order: Order) => ({ orderId: order.id });
const releaseKey = (order: Order) => ({ 'idempotency-key': `demo-${run}-release-${order.id}` });

/**
 * An earlier run that was interrupted can leave Galle's vehicles allocated and orders waiting.
 * Releasing every allocated vehicle, until none is, delivers those orders and frees the city.
 */
async function settleCity(city: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const all = (await call<Vehicle[]>('GET', `${URLS.dispatcher}/dispatch-locations/${city}`)).body;
    const free = (
      await call<Vehicle[]>('GET', `${URLS.dispatcher}/dispatch-locations/${city}?available=true`)
    ).body;
    const busy = all.filter((v) => !free.some((f) => f.vehicle_number === v.vehicle_number));
    if (busy.length === 0) return;
    for (const v of busy)
      await call('PATCH', `${URLS.dispatcher}/dispatch-locations/${v.vehicle_number}/release`);
  }
  throw new Error(`${city} still has allocated vehicles after 20 rounds of releases`);
}

const STORY =
  /^(Order confirmed|Vehicle allocated for order|All vehicles occupied|Cannot find vehicle for order|Vehicle released from order|Order cancelled|Stock returned for order|Order ORD-\d+ is DELIVERED)/;

function logLinesFor(orderNumbers: Set<string>): string[] {
  return readServiceLogs(
    (l) => typeof l.msg === 'string' && STORY.test(l.msg) && orderNumbers.has(String(l.orderNumber)),
  ).map((line) => formatLogLine(line, ['orderNumber', 'vehicle_number', 'city', 'correlationId']));
}

main()
  .then(() => {
    const at = process.argv.indexOf('--markdown');
    const file = at > 0 ? process.argv[at + 1] : undefined;
    if (file) {
      writeFileSync(
        file,
        `<!-- Generated by \`make sample-logs\` from a real run; do not edit by hand. -->\n${out.join('\n')}\n`,
      );
      console.log(`\nwrote ${file}`);
    }
  })
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    console.error('Is the system running? Start it with `make up` (and `make seed`).');
    process.exit(1);
  });
