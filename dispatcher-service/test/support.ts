/**
 * Dispatcher test support: the service's parts on a test runtime (own database, topic
 * namespace, Redis key prefix, port 0), a stand-in for order-service, and its fixtures.
 * Envelopes, topic readers and HTTP calls come from @delivery/common/testing.
 * Nothing here flushes Redis: cleanup deletes only the keys under the test's own prefix.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  envelopeSchema,
  startWorker,
  topicName,
  type Db,
  type Envelope,
  type EventHandler,
  type Worker,
} from '@delivery/common';
import {
  call,
  createTestRuntime,
  envelope,
  listen,
  uniqueId,
  waitFor,
  type ApiResponse,
  type TestRuntime,
} from '@delivery/common/testing';
import type { DispatcherSettings } from '../src/config.js';
import { createDispatcher, type Dispatcher } from '../src/dispatcher.js';
import { closeRedis, createRedis, type RedisClient } from '../src/redis.js';

export const MIGRATIONS = fileURLToPath(new URL('../../migrations/dispatcher', import.meta.url));
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function testRedisPrefix(): string {
  return `test-${uniqueId()}:`;
}

/** A city of its own per test, so the tests of a file share one dispatcher without touching. */
export function newCity(): string {
  return `City ${uniqueId()}`;
}

/** A vehicle number no other test uses. */
export function vehicleNo(): string {
  return `V-${uniqueId().toUpperCase()}`;
}

export interface TestDispatcher {
  rt: TestRuntime;
  redis: RedisClient;
  parts: Dispatcher;
  url: string;
  worker: Worker;
  settings: DispatcherSettings;
  close(): Promise<void>;
}

export interface TestDispatcherOptions {
  orderServiceUrl: string;
  redisPrefix: string;
  topicPrefix?: string;
  /** Share another instance's database (several dispatcher instances). */
  database?: string;
  reconcileIntervalMs?: number;
  /** INTERNAL_TOKEN of the instance: its release endpoints require it, its order-service calls send it. */
  internalToken?: string;
  /** What the worker consumes with, made from the dispatcher's own handlers (e.g. one made to fail). */
  handlers?: (own: EventHandler[]) => EventHandler[];
}

/** The dispatcher in-process: HTTP on port 0, consumer and reconciler running, Redis connected. */
export async function startTestDispatcher(options: TestDispatcherOptions): Promise<TestDispatcher> {
  const rt = await createTestRuntime({
    name: 'dispatcher-service',
    database: 'dispatch',
    migrationsDir: MIGRATIONS,
    topicPrefix: options.topicPrefix,
    config: options.database ? { MYSQL_DATABASE: options.database } : {},
  });
  const redis = createRedis(TEST_REDIS_URL, rt.logger);
  await redis.connect();
  const settings: DispatcherSettings = {
    REDIS_KEY_PREFIX: options.redisPrefix,
    ORDER_SERVICE_URL: options.orderServiceUrl,
    VEHICLE_LOCK_TTL_MS: 3_600_000,
    LOCK_RECONCILE_INTERVAL_MS: options.reconcileIntervalMs ?? 60_000,
    INTERNAL_TOKEN: options.internalToken,
  };
  const parts = createDispatcher(rt, redis, settings);
  const http = await listen(parts.app);
  const handlers = options.handlers?.(parts.handlers) ?? parts.handlers;
  const worker = startWorker(rt, { handlers, workers: parts.workers });
  await worker.ready;
  return {
    rt,
    redis,
    parts,
    url: http.url,
    worker,
    settings,
    async close() {
      await http.close();
      await worker.stop();
      await parts.orders.close();
      await deleteKeys(redis, options.redisPrefix);
      await closeRedis(redis);
      await rt.close();
    },
  };
}

/** "Flush" for tests: delete every key under the prefix, and nothing else. */
export async function deleteKeys(redis: RedisClient, prefix: string): Promise<number> {
  let n = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) n += await redis.del(keys);
  }
  return n;
}

export function lockKey(prefix: string, vehicleNumber: string): string {
  return `${prefix}vehicle-lock:${vehicleNumber.toUpperCase()}`;
}

/** Resolves once the consumer group has `members` members with partitions assigned. */
export async function waitForGroup(rt: TestRuntime, members: number): Promise<void> {
  const groupId = `${rt.config.KAFKA_TOPIC_PREFIX}dispatcher-service`;
  await waitFor(
    async () => {
      const { groups } = await rt.admin.describeGroups([groupId]);
      const group = groups[0];
      return group?.state === 'Stable' && group.members.length === members;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `${members} stable members in ${groupId}` },
  );
}

export interface OrderStub {
  url: string;
  /** Every delivery received (one per order of each request), answered or not. */
  deliveries: {
    orderId: number;
    correlationId: string | undefined;
    requestId: string | undefined;
    authorization: string | undefined;
  }[];
  /**
   * Statuses to answer with, one per request; 200 once exhausted. 5xx answers the request so;
   * 404 and 409 answer 200 with that status for each of its deliveries, as order-service does.
   */
  answer(...statuses: number[]): void;
  /** Requests received. */
  readonly requests: number;
  /** Answers each request this much later (0: at once). */
  delay(ms: number): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A stand-in for order-service's POST /orders/deliveries: records calls, answers as told, can go down. */
export async function startOrderStub(): Promise<OrderStub> {
  const deliveries: OrderStub['deliveries'] = [];
  let queue: number[] = [];
  let requests = 0;
  let delayMs = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/orders/deliveries') return void res.writeHead(404).end();
      const requestId = req.headers['x-request-id'];
      const body = JSON.parse(raw) as { deliveries: { orderId: number; correlationId?: string }[] };
      for (const d of body.deliveries)
        deliveries.push({
          orderId: d.orderId,
          correlationId: d.correlationId,
          requestId: typeof requestId === 'string' ? requestId : undefined,
          authorization: req.headers.authorization,
        });
      requests += 1;
      const status = queue.shift() ?? 200;
      const json = (code: number, payload: unknown) =>
        setTimeout(
          () => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(payload)),
          delayMs,
        );
      if (status >= 500) return json(status, { error: { code: 'stub', message: 'stub' } });
      json(200, {
        results: body.deliveries.map(({ orderId }) =>
          status === 200
            ? { orderId, ok: true }
            : { orderId, ok: false, status, error: { code: 'stub', message: 'stub' } },
        ),
      });
    });
  });
  const listenOn = (port: number) =>
    new Promise<void>((resolve, reject) =>
      server.listen(port, '127.0.0.1').once('listening', resolve).once('error', reject),
    );
  await listenOn(0);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    answer: (...statuses) => void (queue = statuses),
    get requests() {
      return requests;
    },
    delay: (ms) => void (delayMs = ms),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    start: () => listenOn(port),
  };
}

let nextOrderId = 1;

export interface OrderFixture {
  orderId?: number;
  city: string;
  correlationId?: string;
}

/** An order.confirmed envelope as order-service publishes it. */
export function buildConfirmed({
  orderId = nextOrderId++,
  city,
  correlationId,
}: OrderFixture): Envelope<'order.confirmed'> {
  const event = envelope(
    'order.confirmed',
    {
      orderId,
      orderNumber: `ORD-${String(orderId).padStart(6, '0')}`,
      customerId: 1,
      city,
      items: [{ productId: 101, price: '49.99', quantity: 2 }],
      totalAmount: '99.98',
    },
    { correlationId: correlationId ?? `req-${orderId}-${uniqueId()}` },
  );
  return envelopeSchema('order.confirmed').parse(event) as Envelope<'order.confirmed'>;
}

/** One send with each event under its own order id: publish() puts a whole batch under one key. */
export async function publishConfirmed(
  rt: TestRuntime,
  ...events: Envelope<'order.confirmed'>[]
): Promise<void> {
  await rt.producer.send({
    topic: topicName(rt.config.KAFKA_TOPIC_PREFIX, 'order.confirmed'),
    acks: -1,
    messages: events.map((e) => ({ key: String(e.data.orderId), value: JSON.stringify(e) })),
  });
}

export function registerVehicle<T = unknown>(
  url: string,
  vehicle_number: string,
  city: string,
): Promise<ApiResponse<T>> {
  return call<T>('POST', `${url}/dispatch-locations`, { vehicle_number, city });
}

/** PATCH /dispatch-locations/<path>, e.g. `ABC-1234/release` or `ABC-1234/Colombo/release`. */
export function release<T = unknown>(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  return call<T>('PATCH', `${url}/dispatch-locations/${path}`, undefined, headers);
}

/** The log lines whose msg is exactly `msg`. */
export function linesWith(rt: TestRuntime, msg: string): Record<string, unknown>[] {
  return rt.lines.filter((l) => l.msg === msg);
}

export interface AssignmentRow {
  order_id: number;
  vehicle_number: string;
  status: string;
  city_key: string;
}

export async function assignments(
  rt: TestRuntime,
  where: { status?: string } = {},
): Promise<AssignmentRow[]> {
  const q = rt
    .db('assignments as a')
    .join('vehicles as v', 'v.id', 'a.vehicle_id')
    .select('a.order_id', 'v.vehicle_number', 'a.status', 'a.city_key')
    .orderBy('a.id');
  if (where.status) void q.where('a.status', where.status);
  return ((await q) as AssignmentRow[]).map((r) => ({ ...r, order_id: Number(r.order_id) }));
}

export async function waitingOrderIds(rt: TestRuntime, cityKey?: string): Promise<number[]> {
  const q = rt.db('waiting_orders').select('order_id').orderBy('id');
  if (cityKey !== undefined) void q.where({ city_key: cityKey });
  return ((await q) as { order_id: number }[]).map((r) => Number(r.order_id));
}

/** How many events the runtime consumed with this outcome ('ok', 'dlq', …), from its metrics. */
export async function consumedWith(rt: TestRuntime, outcome: string): Promise<number> {
  const { values } = await rt.metrics.eventsConsumed.get();
  return values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
}

/** What a describe block gets from dispatcherWithStub: set by its `before`, closed by its `after`. */
export interface StubbedDispatcher {
  stub: OrderStub;
  d: TestDispatcher;
  redisPrefix: string;
}

/**
 * For the enclosing describe: an order-service stand-in and a dispatcher wired to it, under a
 * Redis prefix of their own, started before its tests and closed after them.
 */
export function dispatcherWithStub(
  options: Pick<TestDispatcherOptions, 'reconcileIntervalMs' | 'handlers'> = {},
) {
  const env = { redisPrefix: testRedisPrefix() } as StubbedDispatcher;
  before(async () => {
    env.stub = await startOrderStub();
    env.d = await startTestDispatcher({
      orderServiceUrl: env.stub.url,
      redisPrefix: env.redisPrefix,
      ...options,
    });
  });
  after(async () => {
    await env.d?.close();
    await env.stub?.stop();
  });
  return env;
}

/**
 * The SQL statements `work` sends (whitespace collapsed), in order, without the outbox relay's:
 * it publishes and marks what the dispatcher wrote whatever the dispatcher does, so a statement
 * naming the outbox other than its INSERT counts as the relay's, and so does every statement of
 * a transaction holding one.
 */
export async function statementsOf(db: Db, work: () => Promise<unknown>): Promise<string[]> {
  const seen: { sql: string; txId?: string }[] = [];
  const listener = (q: { sql: string; __knexTxId?: string }) => seen.push({ sql: q.sql, txId: q.__knexTxId });
  db.on('query', listener);
  try {
    await work();
  } finally {
    db.removeListener('query', listener);
  }
  const relay = (sql: string) => /\boutbox\b/i.test(sql) && !/^\s*insert into outbox/i.test(sql);
  const relayTx = new Set(seen.filter((s) => s.txId !== undefined && relay(s.sql)).map((s) => s.txId));
  return seen
    .filter((s) => !relay(s.sql) && !(s.txId !== undefined && relayTx.has(s.txId)))
    .map((s) => s.sql.replace(/\s+/g, ' ').trim());
}
