import { spawnSync } from 'node:child_process';
import { createDb, internalAuthHeaders } from '@delivery/common';
import { createClient, type RedisClientType } from 'redis';
import { Pool } from 'undici';
import type { BenchOptions } from './args.js';
import { mapLimit } from './stats.js';
import type { Dbs } from './verify.js';

/**
 * The bench only ever talks to this machine: by default the ports, databases and broker `make up`
 * uses. The names scripts/services.sh takes point it at another copy of the system running beside
 * it (SERVICES_RUN_DIR, ORDER_PORT…, ORDER_DATABASE…, KAFKA_BROKERS, KAFKA_TOPIC_PREFIX,
 * REDIS_KEY_PREFIX), e.g. the same services on a Kafka cluster, to compare the two in one sitting.
 */
const env = process.env;
export const HOST = '127.0.0.1';
export const SERVICES = {
  order: `http://${HOST}:${env.ORDER_PORT ?? 3001}`,
  inventory: `http://${HOST}:${env.INVENTORY_PORT ?? 3002}`,
  dispatcher: `http://${HOST}:${env.DISPATCHER_PORT ?? 3003}`,
} as const;
export const MYSQL_URL = `mysql://root@${HOST}:3306`;
export const REDIS_URL = `redis://${HOST}:6379`;
export const KAFKA_BROKERS = (env.KAFKA_BROKERS ?? `${HOST}:9092`).split(',');
export const TOPIC_PREFIX = env.KAFKA_TOPIC_PREFIX ?? '';
/** The dispatcher's lock keys, under its REDIS_KEY_PREFIX (default: the topic prefix). */
export const LOCK_KEY_PREFIX = `${env.REDIS_KEY_PREFIX ?? TOPIC_PREFIX}vehicle-lock:`;
/** Where the services' pid files are (CPU per process). */
export const SERVICES_RUN_DIR = env.SERVICES_RUN_DIR;
/** The databases `make up` runs on (DESIGN.md §8 defaults). */
export const DATABASES = {
  order: env.ORDER_DATABASE ?? 'orders',
  inventory: env.INVENTORY_DATABASE ?? 'inventory',
  dispatcher: env.DISPATCHER_DATABASE ?? 'dispatch',
} as const;

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** A running system is used as it is; when nothing answers, `make up` starts one. */
export async function ensureSystemUp(log: (s: string) => void): Promise<'running' | 'started'> {
  const answers = await Promise.all(Object.values(SERVICES).map(ready));
  if (answers.every(Boolean)) return 'running';
  if (SERVICES_RUN_DIR) throw new Error(`the services of ${SERVICES_RUN_DIR} do not all answer /readyz`);
  log('the services do not all answer /readyz: running `make up`');
  const up = spawnSync('make', ['up'], { stdio: 'inherit' });
  if (up.status !== 0) throw new Error('`make up` failed');
  return 'started';
}

export interface JsonReply<T = unknown> {
  status: number;
  body: T;
}

/** JSON over a keep-alive undici pool: what a real client of the services would hold. */
export class JsonClient {
  readonly pool: Pool;
  constructor(
    origin: string,
    connections: number,
    private readonly headers: Record<string, string> = {},
  ) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  }

  async call<T = unknown>(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<JsonReply<T>> {
    const headers = { ...this.headers, ...extraHeaders };
    const res = await this.pool.request({
      method,
      path,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as T };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export interface Fixture {
  run: string;
  cities: string[];
  /** vehicle_number → city */
  vehicles: Map<string, string>;
  products: { id: number; stock: number }[];
}

/** Bench cities, vehicles and products of their own, named after the run so runs never meet. */
export async function createFixture(
  clients: { inventory: JsonClient; dispatcher: JsonClient },
  run: string,
  opts: { cities: number; vehiclesPerCity: number; products: number; stockPerProduct: number },
): Promise<Fixture> {
  const products: Fixture['products'] = [];
  for (let p = 0; p < opts.products; p++) {
    const res = await clients.inventory.call<{ id: number }>('POST', '/products', {
      name: `Bench ${run} product ${p}`,
      stock: opts.stockPerProduct,
    });
    if (res.status !== 201)
      throw new Error(`POST /products answered ${res.status} ${JSON.stringify(res.body)}`);
    products.push({ id: res.body.id, stock: opts.stockPerProduct });
  }
  const cities = Array.from({ length: opts.cities }, (_, c) => `Bench-${run}-${c}`);
  const vehicles = new Map<string, string>();
  for (const [c, city] of cities.entries())
    for (let v = 0; v < opts.vehiclesPerCity; v++) vehicles.set(`B${run}-${c}-${v}`, city);
  await registerVehicles(clients.dispatcher, vehicles);
  return { run, cities, vehicles, products };
}

export async function registerVehicles(dispatcher: JsonClient, vehicles: Map<string, string>): Promise<void> {
  await mapLimit([...vehicles], 8, async ([vehicle_number, city]) => {
    const res = await dispatcher.call('POST', '/dispatch-locations', { vehicle_number, city });
    if (res.status !== 201)
      throw new Error(`POST /dispatch-locations answered ${res.status} ${JSON.stringify(res.body)}`);
  });
}

/** The clients a run talks through: the services over HTTP, their databases, Redis. */
export interface Connections {
  order: JsonClient;
  inventory: JsonClient;
  dispatcher: JsonClient;
  dbs: Dbs;
  redis: RedisClientType;
}

export async function connect(opts: BenchOptions): Promise<Connections & { close(): Promise<void> }> {
  const auth = internalAuthHeaders(opts.internalToken);
  const c: Connections = {
    order: new JsonClient(SERVICES.order, opts.concurrency, auth),
    inventory: new JsonClient(SERVICES.inventory, 4, auth),
    dispatcher: new JsonClient(SERVICES.dispatcher, 32, auth),
    dbs: {
      orders: createDb({ url: MYSQL_URL, database: DATABASES.order, poolMax: 4 }),
      inventory: createDb({ url: MYSQL_URL, database: DATABASES.inventory, poolMax: 2 }),
      dispatch: createDb({ url: MYSQL_URL, database: DATABASES.dispatcher, poolMax: 2 }),
    },
    redis: createClient({ url: REDIS_URL }) as RedisClientType,
  };
  await c.redis.connect();
  return {
    ...c,
    async close() {
      await Promise.all([c.order.close(), c.inventory.close(), c.dispatcher.close()]);
      await Promise.all(Object.values(c.dbs).map((db) => db.destroy()));
      await c.redis.close();
    },
  };
}
