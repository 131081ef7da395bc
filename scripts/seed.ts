/**
 * `make seed`: products (including 101 from the assignment's example) and vehicles in Colombo
 * and Kandy, through the public APIs. What already exists is left as it is, so a second run
 * changes nothing.
 */
import { URLS, call } from './http-client.js';

export const PRODUCTS = [
  { id: 101, name: 'Rice 5kg', stock: 500 },
  { id: 102, name: 'Dhal 1kg', stock: 500 },
  { id: 103, name: 'Coconut oil 1L', stock: 300 },
  { id: 104, name: 'Tea 400g', stock: 300 },
];

export const VEHICLES = [
  { vehicle_number: 'ABC-1234', city: 'Colombo' },
  { vehicle_number: 'XYZ-5678', city: 'Colombo' },
  { vehicle_number: 'CBA-4321', city: 'Colombo' },
  { vehicle_number: 'KDY-1001', city: 'Kandy' },
  { vehicle_number: 'KDY-1002', city: 'Kandy' },
];

async function ensure(what: string, url: string, body: Record<string, unknown>): Promise<'created' | 'existed'> {
  const res = await call('POST', url, body);
  if (res.status === 201) return 'created';
  if (res.status === 409) return 'existed';
  throw new Error(`${what}: POST ${url} answered ${res.status} ${JSON.stringify(res.body)}`);
}

async function main(): Promise<void> {
  for (const p of PRODUCTS) {
    const outcome = await ensure(`product ${p.id}`, `${URLS.inventory}/products`, p);
    console.log(`product  ${p.id} ${p.name.padEnd(16)} ${outcome}`);
  }
  for (const v of VEHICLES) {
    const outcome = await ensure(`vehicle ${v.vehicle_number}`, `${URLS.dispatcher}/dispatch-locations`, v);
    console.log(`vehicle  ${v.vehicle_number.padEnd(9)} ${v.city.padEnd(8)} ${outcome}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  console.error('Is the system running? Start it with `make up`.');
  process.exit(1);
});
