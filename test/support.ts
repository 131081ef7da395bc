/**
 * Starts the three services as real processes, the way `make up` does, on their own test
 * databases, topic namespace and free ports. Used by the end-to-end suites; the fault suite
 * (test/faults) also points a system at servers it owns and restarts single processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createKafka,
  createLogger,
  dropDatabase,
  prepareDatabase,
  topicName,
  type EventType,
} from '@delivery/common';
import {
  TEST_KAFKA_BROKERS,
  TEST_MYSQL_URL,
  call,
  deleteTestTopics,
  testTopicPrefix,
  uniqueId,
  waitFor,
} from '@delivery/common/testing';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const SERVICES = [
  { name: 'order-service', database: 'orders', migrations: 'order' },
  { name: 'inventory-service', database: 'inventory', migrations: 'inventory' },
  { name: 'dispatcher-service', database: 'dispatch', migrations: 'dispatcher' },
] as const;

export type ServiceName = (typeof SERVICES)[number]['name'];

export interface RunningService {
  name: ServiceName;
  url: string;
  logFile: string;
  /** The current process: start() replaces it after the previous one exited. */
  process: ChildProcess;
  env: NodeJS.ProcessEnv;
  /** The service's own database on the system's MySQL server. */
  database: string;
  /** The JSON lines the process (and every earlier process of this service) has logged so far. */
  logLines(): Record<string, unknown>[];
  /** Starts the process again with the same env, port and log file; by default waits until /readyz is 200. */
  start(options?: { waitReady?: boolean }): Promise<void>;
}

export interface SystemOptions {
  /** The MySQL server holding the system's databases; default the machine's (TEST_MYSQL_URL). */
  mysqlUrl?: string;
  /** Default the machine's broker (TEST_KAFKA_BROKERS). Topics on another broker are its owner's to remove. */
  kafkaBrokers?: string[];
  /** The dispatcher's Redis; default its own default (the machine's). */
  redisUrl?: string;
  /** Dispatcher processes sharing one database, topic namespace and Redis prefix (default 1). */
  dispatchers?: number;
  /**
   * Processes of a service sharing its database, topic namespace and consumer group (default 1;
   * for the dispatcher, `dispatchers` says the same). The first is the one in `services`.
   */
  instances?: Partial<Record<ServiceName, number>>;
  /** How long each process may take to answer /readyz 200 (default 60 s). */
  readyTimeoutMs?: number;
}

export interface System {
  prefix: string;
  mysqlUrl: string;
  services: Record<ServiceName, RunningService>;
  /** Every dispatcher instance; the first is services['dispatcher-service']. */
  dispatchers: RunningService[];
  /** Every instance of each service; the first is the one in `services`. */
  instances: Record<ServiceName, RunningService[]>;
  stop(): Promise<void>;
}

export function startProcess(name: ServiceName, env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, name, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

function readLines(logFile: string): Record<string, unknown>[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * A port that is free right now and stays free: chosen below the kernel's ephemeral range, so
 * no outgoing connection (the tests open thousands, to MySQL, Kafka and Redis) can take it
 * between this check and the service's listen, or while a killed service is down before its
 * restart on the same port. A port the OS hands out for port 0 could be (CI saw EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  const top = ephemeralLow() ?? 32_768;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (top - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error('no free port below the ephemeral range after 200 tries');
}

/** The first port the kernel hands out to outgoing connections (Linux), if it says. */
function ephemeralLow(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 12_000 ? low : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a listener on every interface (as the services open it) could take the port now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/** Resolves when the service's /readyz answers 200; fails at once if its process exits. */
export function waitReady(s: RunningService, timeoutMs = 60_000): Promise<boolean> {
  return waitFor(
    async () => {
      if (s.process.exitCode !== null) throw new Error(`${s.name} exited with ${s.process.exitCode}`);
      return (await call('GET', `${s.url}/readyz`)).status === 200;
    },
    { timeoutMs, intervalMs: 200, what: `${s.name} ready` },
  );
}

function runningService(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  logFile: string,
  database: string,
): RunningService {
  const service: RunningService = {
    name,
    url: `http://127.0.0.1:${env.PORT}`,
    logFile,
    env,
    database,
    process: startProcess(name, env, logFile),
    logLines: () => readLines(logFile),
    async start({ waitReady: wait = true } = {}) {
      if (service.process.exitCode === null && service.process.signalCode === null)
        throw new Error(`${name} (pid ${service.process.pid}) is still running`);
      service.process = startProcess(name, env, logFile);
      if (wait) await waitReady(service);
    },
  };
  return service;
}

export async function startSystem(
  extraEnv: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {},
  options: SystemOptions = {},
): Promise<System> {
  const {
    mysqlUrl = TEST_MYSQL_URL,
    kafkaBrokers = TEST_KAFKA_BROKERS,
    redisUrl,
    dispatchers = options.instances?.['dispatcher-service'] ?? 1,
  } = options;
  const prefix = testTopicPrefix();
  const run = uniqueId();
  const logDir = path.join(ROOT, '.run', 'test-logs', run);
  mkdirSync(logDir, { recursive: true });
  const ports = {
    'order-service': await freePort(),
    'inventory-service': await freePort(),
    'dispatcher-service': await freePort(),
  };
  const databases: string[] = [];
  const services = {} as Record<ServiceName, RunningService>;
  const instances: RunningService[] = [];
  for (const s of SERVICES) {
    const database = `${s.database}_test_${run}`;
    databases.push(database);
    await prepareDatabase({ url: mysqlUrl, database }, path.join(ROOT, 'migrations', s.migrations));
    const env: NodeJS.ProcessEnv = {
      PORT: String(ports[s.name]),
      MYSQL_URL: mysqlUrl,
      MYSQL_DATABASE: database,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_PARTITIONS: '3',
      ORDER_SERVICE_URL: `http://127.0.0.1:${ports['order-service']}`,
      REDIS_KEY_PREFIX: `test-${run}:`,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      LOG_LEVEL: 'debug',
      ...extraEnv[s.name],
    };
    services[s.name] = runningService(s.name, env, path.join(logDir, `${s.name}.log`), database);
    instances.push(services[s.name]);
  }
  const byService = {} as Record<ServiceName, RunningService[]>;
  for (const { name } of SERVICES) {
    const first = services[name];
    byService[name] = [first];
    const wanted = name === 'dispatcher-service' ? dispatchers : (options.instances?.[name] ?? 1);
    for (let i = 2; i <= wanted; i++) {
      const env = { ...first.env, PORT: String(await freePort()) };
      const extra = runningService(name, env, path.join(logDir, `${name}-${i}.log`), first.database);
      byService[name].push(extra);
      instances.push(extra);
    }
  }
  const dispatcherInstances = byService['dispatcher-service'];
  await Promise.all(instances.map((s) => waitReady(s, options.readyTimeoutMs)));
  return {
    prefix,
    mysqlUrl,
    services,
    dispatchers: dispatcherInstances,
    instances: byService,
    async stop() {
      await Promise.all(instances.map((s) => stopProcess(s.process)));
      for (const db of databases) await dropDatabase(mysqlUrl, db);
      if (options.kafkaBrokers === undefined) await deleteTestTopics(prefix);
    },
  };
}

/**
 * Resolves once the service's consumer group has committed every message the topics of `types`
 * hold now. The consumer loop commits only what it handled, so by then each of those messages
 * was handled and its effect is visible: what a negative check waits for instead of a sleep.
 */
export async function waitForConsumed(
  system: System,
  service: ServiceName,
  types: EventType[],
  timeoutMs = 30_000,
): Promise<void> {
  const admin = createKafka({
    clientId: 'test-consumed',
    brokers: String(system.services[service].env.KAFKA_BROKERS).split(','),
    logger: createLogger({ service: 'test', level: 'silent' }),
  }).admin();
  await admin.connect();
  try {
    const groupId = `${system.prefix}${service}`;
    const topics = types.map((type) => topicName(system.prefix, type));
    const ends = new Map<string, number>();
    for (const topic of topics)
      for (const p of await admin.fetchTopicOffsets(topic))
        ends.set(`${topic}/${p.partition}`, Number(p.high));
    await waitFor(
      async () =>
        (await admin.fetchOffsets({ groupId, topics })).every(({ topic, partitions }) =>
          partitions.every((p) => {
            const end = ends.get(`${topic}/${p.partition}`) ?? 0;
            // A partition that was empty has nothing to commit (its offset stays -1).
            return end === 0 || Number(p.offset) >= end;
          }),
        ),
      { timeoutMs, intervalMs: 200, what: `${groupId} to commit what ${topics.join(', ')} held` },
    );
  } finally {
    await admin.disconnect();
  }
}

/** Send `signal` (SIGTERM by default) and wait for the exit code; null when a signal ended it. */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}
