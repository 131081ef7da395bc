/**
 * Orders in flight for the fault scenarios: a catalogue and fleet, orders placed at a steady
 * rate while something breaks, and a releaser that keeps delivering so vehicles come free and
 * every order can reach its final state.
 */
import { call, waitFor } from '@delivery/common/testing';
import type { System } from '../support.js';

export interface Fixture {
  cities: string[];
  vehiclesPerCity: number;
  /** Product 903 is scarce: some orders for it are REJECTED, which must take no stock. */
  products: { id: number; stock: number }[];
}

export const FIXTURE: Fixture = {
  cities: ['Colombo', 'Kandy', 'Kōbe'],
  vehiclesPerCity: 3,
  products: [
    { id: 901, stock: 100_000 },
    { id: 902, stock: 100_000 },
    { id: 903, stock: 12 },
  ],
};

export interface PlacedOrder {
  id: number;
  orderNumber: string;
  city: string;
}

/** Headers every call of a scenario sends (the internal token, when the system requires one). */
export type Headers = Record<string, string>;

/** Every call of a scenario: a service that stopped answering must not hold the load up for ever. */
const send = (method: string, url: string, body?: unknown, headers: Headers = {}) =>
  call(method, url, body, headers, { timeoutMs: 20_000 });

export function vehicleNumbers(fixture: Fixture, city: string): string[] {
  const code = fixture.cities.indexOf(city) + 1;
  return Array.from({ length: fixture.vehiclesPerCity }, (_, i) => `CT${code}-${1000 + i}`);
}

/** Products and vehicles, through the APIs. */
export async function seed(system: System, fixture: Fixture = FIXTURE): Promise<void> {
  const inventory = system.services['inventory-service'].url;
  const dispatcher = system.services['dispatcher-service'].url;
  for (const { id, stock } of fixture.products) {
    const res = await send('POST', `${inventory}/products`, { id, name: `Product ${id}`, stock });
    if (res.status !== 201) throw new Error(`seeding product ${id}: ${res.status}`);
  }
  for (const city of fixture.cities) {
    for (const vehicle_number of vehicleNumbers(fixture, city)) {
      const res = await send('POST', `${dispatcher}/dispatch-locations`, { vehicle_number, city });
      if (res.status !== 201) throw new Error(`seeding vehicle ${vehicle_number}: ${res.status}`);
    }
  }
}

/** The n-th order of a run: cities and products in turn, every fifth order asks for the scarce product. */
export function orderBody(n: number, fixture: Fixture = FIXTURE) {
  const product = (i: number) => fixture.products[i % (fixture.products.length - 1)]!.id;
  const items = [{ productId: product(n), price: 12.5, quantity: 1 + (n % 3) }];
  if (n % 5 === 0) items.push({ productId: fixture.products.at(-1)!.id, price: 3.99, quantity: 2 });
  return { customerId: 1 + (n % 17), city: fixture.cities[n % fixture.cities.length]!, items };
}

export interface Load {
  attempted: number;
  /** Orders answered 201. */
  accepted: PlacedOrder[];
  /** Every other answer, by status or error name (e.g. 503, ECONNREFUSED). */
  refused: Record<string, number>;
  /** Resolves once every order was sent and answered (or failed). */
  done: Promise<void>;
  /** Resolves once `n` orders have been answered 201. */
  acceptedAtLeast(n: number): Promise<void>;
}

/** Places `count` orders at `perSecond`, each request on its own, whatever happens to the services. */
export function placeOrders(
  orderUrl: string,
  { count, perSecond, fixture = FIXTURE }: { count: number; perSecond: number; fixture?: Fixture },
): Load {
  const load: Load = {
    attempted: 0,
    accepted: [],
    refused: {},
    done: Promise.resolve(),
    acceptedAtLeast: (n) =>
      waitFor(() => load.accepted.length >= n, { timeoutMs: 120_000, what: `${n} orders answered 201` }).then(
        () => undefined,
      ),
  };
  const one = async (n: number) => {
    load.attempted += 1;
    try {
      const { status, body } = await send('POST', `${orderUrl}/orders`, orderBody(n, fixture));
      if (status === 201) load.accepted.push(body as PlacedOrder);
      else load.refused[status] = (load.refused[status] ?? 0) + 1;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      load.refused[cause] = (load.refused[cause] ?? 0) + 1;
    }
  };
  load.done = (async () => {
    const inFlight: Promise<void>[] = [];
    const started = Date.now();
    for (let n = 0; n < count; n++) {
      // A steady rate, not a burst: the fault lands in the middle of the stream.
      const due = started + (n * 1000) / perSecond;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      inFlight.push(one(n));
    }
    await Promise.all(inFlight);
  })();
  return load;
}

export interface Releaser {
  released: number;
  /** Rounds done: each lists the allocated vehicles of every city of the fixture and releases them. */
  rounds: number;
  stop(): Promise<void>;
}

/**
 * Keeps releasing every allocated vehicle, through whichever dispatcher instance answers, so
 * vehicles come free and waiting orders flow. Errors (a service down) are ignored: it tries again.
 */
export function startReleaser(
  system: System,
  { fixture = FIXTURE, headers = {} }: { fixture?: Fixture; headers?: Headers } = {},
): Releaser {
  let running = true;
  const releaser: Releaser = { released: 0, rounds: 0, stop: async () => undefined };
  // Any instance whose process runs, picked at random: a dead one must not starve a city.
  const url = () => {
    const alive = system.dispatchers.filter(
      (d) => d.process.exitCode === null && d.process.signalCode === null,
    );
    return (alive[Math.floor(Math.random() * alive.length)] ?? system.dispatchers[0]!).url;
  };
  const releaseCity = async (city: string) => {
    const listed = await send(
      'GET',
      `${url()}/dispatch-locations/${encodeURIComponent(city)}?available=false`,
    );
    if (listed.status !== 200) return;
    for (const { vehicle_number } of listed.body as { vehicle_number: string }[]) {
      // As a driver's app should: the order it delivers, and one key for every attempt at it.
      const carried = await send('GET', `${url()}/dispatch-locations/${vehicle_number}/assignment`);
      if (carried.status !== 200) continue;
      const { orderId } = carried.body as { orderId: number };
      const res = await send(
        'PATCH',
        `${url()}/dispatch-locations/${vehicle_number}/release`,
        { orderId },
        {
          ...headers,
          'idempotency-key': `faults-release-${orderId}`,
        },
      );
      if (res.status === 200) releaser.released += 1;
    }
  };
  const loop = (async () => {
    while (running) {
      await Promise.all(fixture.cities.map((c) => releaseCity(c).catch(() => undefined)));
      releaser.rounds += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  releaser.stop = async () => {
    running = false;
    await loop;
  };
  return releaser;
}
