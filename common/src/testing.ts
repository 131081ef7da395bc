/**
 * Test support shared by every package's tests. Tests use their own databases (names carry
 * `_test`), their own topic namespace and consumer groups, and port 0, so they can run while
 * `make up` is serving.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Express } from 'express';
import { DB_TIMEOUT_DEFAULTS, createDb, dropDatabase, prepareDatabase, type Db } from './db.js';
import type { ErrorDetail } from './errors.js';
import { createHttpServer } from './http.js';
import { topicName, type Envelope, type EventData, type EventType } from './events.js';
import { createLogger, type Logger } from './logger.js';
import { createKafka, type Kafka, type Producer } from './kafka.js';
import { closeRuntime, createRuntime, type ServiceConfig, type ServiceRuntime } from './service.js';

export const TEST_MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
export const TEST_KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

export function uniqueId(): string {
  return randomBytes(4).toString('hex');
}

/** A fresh, migrated database `<base>_test_<random>`; drop() removes it. */
export async function createTestDatabase(
  base: string,
  migrationsDir: string,
): Promise<{ db: Db; name: string; drop(): Promise<void> }> {
  const name = `${base}_test_${uniqueId()}`;
  await prepareDatabase({ url: TEST_MYSQL_URL, database: name }, migrationsDir);
  const db = createDb({ url: TEST_MYSQL_URL, database: name });
  return {
    db,
    name,
    async drop() {
      await db.destroy();
      await dropDatabase(TEST_MYSQL_URL, name);
    },
  };
}

/** Delete every topic of a test namespace so test runs do not pile topics up in the broker. */
export async function deleteTestTopics(prefix: string): Promise<void> {
  if (!prefix.startsWith('test-')) throw new Error(`Refusing to delete topics of ${JSON.stringify(prefix)}`);
  const admin = createKafka({
    clientId: 'test-cleanup',
    brokers: TEST_KAFKA_BROKERS,
    logger: createLogger({ service: 'test', level: 'silent' }),
  }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/** A topic namespace of its own, e.g. `test-1a2b3c4d.`; consumer groups take the same prefix. */
export function testTopicPrefix(): string {
  return `test-${uniqueId()}.`;
}

export interface CapturedLogger {
  logger: Logger;
  lines: Record<string, unknown>[];
}

/** A real pino logger whose JSON lines are kept for assertions. */
export function captureLogger(service = 'test'): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({
    service,
    level: (process.env.TEST_LOG_LEVEL as 'debug') ?? 'debug',
    destination,
  });
  return { logger, lines };
}

/** Poll `probe` until it returns a value other than undefined/false, or fail after the deadline. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 20_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
  );
}

/** Listen on port 0, with the server the services use, and give back the base URL and a close function. */
export async function listen(app: Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer(app).listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface TestRuntime extends ServiceRuntime {
  /** Every JSON log line the runtime wrote. */
  lines: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface TestRuntimeOptions {
  /** Service name, e.g. 'order-service'. */
  name: string;
  /** Base of the database name, e.g. 'orders' gives orders_test_<random>. */
  database: string;
  migrationsDir: string;
  /** Share one namespace between the services of one test. */
  topicPrefix?: string;
  config?: Partial<ServiceConfig>;
}

/** A service runtime on its own migrated test database and topic namespace, logging to memory. */
export async function createTestRuntime(options: TestRuntimeOptions): Promise<TestRuntime> {
  const database = `${options.database}_test_${uniqueId()}`;
  await prepareDatabase({ url: TEST_MYSQL_URL, database }, options.migrationsDir);
  const config: ServiceConfig = {
    LOG_LEVEL: 'debug',
    MYSQL_URL: TEST_MYSQL_URL,
    DB_POOL_MAX: 10,
    DB_ACQUIRE_TIMEOUT: DB_TIMEOUT_DEFAULTS.acquireMs,
    DB_STATEMENT_TIMEOUT: DB_TIMEOUT_DEFAULTS.statementMs,
    KAFKA_BROKERS: TEST_KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX: options.topicPrefix ?? testTopicPrefix(),
    KAFKA_PARTITIONS: 3,
    KAFKA_REPLICATION_FACTOR: 1,
    KAFKA_MIN_INSYNC_REPLICAS: 1,
    ROLE: 'all',
    KAFKA_TOPIC_RETENTION: 7 * 86_400_000,
    OUTBOX_RETENTION: 86_400_000,
    RETENTION_INTERVAL: 5 * 60_000,
    PORT: 0,
    MYSQL_DATABASE: database,
    ...options.config,
  };
  const { logger, lines } = captureLogger(options.name);
  const rt = createRuntime(options.name, config, logger);
  // The runtime that made the namespace removes its topics; a shared one is the test's to remove.
  const ownsTopics = options.topicPrefix === undefined;
  return {
    ...rt,
    lines,
    async close() {
      await closeRuntime(rt);
      await dropDatabase(TEST_MYSQL_URL, database);
      if (ownsTopics) await deleteTestTopics(config.KAFKA_TOPIC_PREFIX);
    },
  };
}

/** A version-1 envelope as a producing service writes it; overrides fix a field a test asserts on. */
export function envelope<T extends EventType>(
  type: T,
  data: EventData<T>,
  overrides: Partial<Envelope<T>> = {},
): Envelope<T> {
  return {
    eventId: randomUUID(),
    type,
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: randomUUID(),
    data,
    ...overrides,
  } as Envelope<T>;
}

/**
 * Sends raw values to the topic of `type`, all under one key as the services key them. Strings go
 * as they are, so a test can send what no service would (broken JSON, a wrong envelope).
 */
export async function publish(
  producer: Producer,
  prefix: string,
  type: EventType,
  key: string | number,
  values: unknown[],
): Promise<void> {
  await producer.send({
    topic: topicName(prefix, type),
    acks: -1,
    messages: values.map((v) => ({ key: String(key), value: typeof v === 'string' ? v : JSON.stringify(v) })),
  });
}

export interface SeenMessage {
  key: string;
  value: string;
  headers: Record<string, string>;
}

export interface TopicReader {
  /** Every message read so far, in the order it arrived. */
  seen: SeenMessage[];
  stop(): Promise<void>;
}

/**
 * Reads every message of `topic` from the beginning. The group is a throwaway one under the test's
 * prefix, so readers never share offsets and leave nothing behind outside the namespace; the short
 * fetch wait lets waitFor see a message soon after it lands.
 */
export async function readTopic(kafka: Kafka, prefix: string, topic: string): Promise<TopicReader> {
  const seen: SeenMessage[] = [];
  const consumer = kafka.consumer({ groupId: `${prefix}reader-${randomUUID()}`, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
      );
      seen.push({ key: String(message.key), value: String(message.value), headers });
    },
  });
  return { seen, stop: () => consumer.disconnect() };
}

export interface ApiResponse<T = unknown> {
  status: number;
  /** The answer parsed as JSON when its content type says JSON; undefined when it is empty or not JSON. */
  body: T;
  /** The answer as it came (Prometheus text, HTML, or JSON to look at as sent). */
  text: string;
  headers: Headers;
}

/** The body of every error answer the services give. */
export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

export interface CallOptions {
  /** Give up on the request after this long (default: wait as long as it takes). */
  timeoutMs?: number;
}

/**
 * One request, the HTTP client of every test. The body: an object goes as JSON; a string goes
 * as it is under a JSON content type, so a test can send malformed JSON (a content-type header
 * of its own wins); a Buffer goes as it is with no content type. A refused connection rejects,
 * as fetch does.
 */
export async function call<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
  { timeoutMs }: CallOptions = {},
): Promise<ApiResponse<T>> {
  const asJson = body !== undefined && !Buffer.isBuffer(body);
  const res = await fetch(url, {
    method,
    headers: asJson ? { 'content-type': 'application/json', ...headers } : headers,
    body: asJson && typeof body !== 'string' ? JSON.stringify(body) : (body as string | Buffer | undefined),
    signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  const isJson = /^application\/([\w.+-]+\+)?json\b/i.test(res.headers.get('content-type') ?? '');
  return {
    status: res.status,
    body: (isJson && text ? JSON.parse(text) : undefined) as T,
    text,
    headers: res.headers,
  };
}

/** `call` with a base URL, headers sent on every request (e.g. a token) and a timeout of its own. */
export interface Client {
  readonly url: string;
  request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
  get<T = unknown>(path: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  post<T = unknown>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  patch<T = unknown>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
}

export function client(
  url: string,
  { headers: always = {}, ...options }: CallOptions & { headers?: Record<string, string> } = {},
): Client {
  const request = <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call<T>(method, `${url}${path}`, body, { ...always, ...headers }, options);
  return {
    url,
    request,
    get: (path, headers) => request('GET', path, undefined, headers),
    post: (path, body, headers) => request('POST', path, body, headers),
    patch: (path, body, headers) => request('PATCH', path, body, headers),
  };
}

/** Row counts by table, to show that a refused request wrote nothing. */
export async function countRows(db: Db, tables: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const row = (await db(table).count({ n: '*' }).first()) as { n: number | string };
    counts[table] = Number(row.n);
  }
  return counts;
}

/**
 * A TCP relay to a real server that can be frozen: frozen, it reads nothing from either side and
 * connects new clients nowhere, as a server process that is stopped (SIGSTOP) behaves to its
 * clients (the kernel still accepts and buffers). Thawed, everything buffered flows on. What a
 * test of "the server stopped answering" points its client at.
 */
export interface FreezableProxy {
  url(scheme: string): string;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function freezableProxy(target: { host: string; port: number }): Promise<FreezableProxy> {
  let frozen = false;
  const pairs = new Set<[Socket, Socket]>();
  const waiting: Socket[] = [];
  const link = (client: Socket) => {
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const [from, to] of [pair, [upstream, client]] as const) {
      from.on('data', (chunk: Buffer) => to.write(chunk));
      from.on('close', () => {
        pairs.delete(pair);
        to.destroy();
      });
      from.on('error', () => to.destroy());
    }
  };
  const server = createNetServer((client) => {
    if (frozen) {
      client.pause();
      client.on('error', () => undefined);
      waiting.push(client);
    } else link(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    freeze() {
      frozen = true;
      for (const pair of pairs) for (const s of pair) s.pause();
    },
    thaw() {
      frozen = false;
      for (const pair of pairs) for (const s of pair) s.resume();
      for (const client of waiting.splice(0)) {
        link(client);
        client.resume();
      }
    },
    async close() {
      for (const pair of pairs) for (const s of pair) s.destroy();
      for (const client of waiting.splice(0)) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** How long `work` took to fail, and what it failed with (a test of a bound: it must fail). */
export async function timedFailure(work: () => Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const started = performance.now();
  try {
    await work();
  } catch (err) {
    return { ms: performance.now() - started, err };
  }
  throw new Error('expected a failure');
}
