/**
 * Starts the three services as real processes, the way `make up` does, on their own test
 * databases, topic namespace and free ports. Used by the end-to-end suites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropDatabase, prepareDatabase } from '@delivery/common';
import {
  TEST_KAFKA_BROKERS,
  TEST_MYSQL_URL,
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
  process: ChildProcess;
  env: NodeJS.ProcessEnv;
  /** The JSON lines the process has logged so far. */
  logLines(): Record<string, unknown>[];
}

export interface System {
  prefix: string;
  services: Record<ServiceName, RunningService>;
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

/** Ask the OS for a port that is free right now. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

export async function startSystem(
  extraEnv: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {},
): Promise<System> {
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
  for (const s of SERVICES) {
    const database = `${s.database}_test_${run}`;
    databases.push(database);
    await prepareDatabase({ url: TEST_MYSQL_URL, database }, path.join(ROOT, 'migrations', s.migrations));
    const env: NodeJS.ProcessEnv = {
      PORT: String(ports[s.name]),
      MYSQL_URL: TEST_MYSQL_URL,
      MYSQL_DATABASE: database,
      KAFKA_BROKERS: TEST_KAFKA_BROKERS.join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_PARTITIONS: '3',
      ORDER_SERVICE_URL: `http://127.0.0.1:${ports['order-service']}`,
      REDIS_KEY_PREFIX: `test-${run}:`,
      LOG_LEVEL: 'debug',
      ...extraEnv[s.name],
    };
    const logFile = path.join(logDir, `${s.name}.log`);
    services[s.name] = {
      name: s.name,
      url: `http://127.0.0.1:${ports[s.name]}`,
      logFile,
      env,
      process: startProcess(s.name, env, logFile),
      logLines: () => readLines(logFile),
    };
  }
  await Promise.all(
    Object.values(services).map((s) =>
      waitFor(
        async () => {
          if (s.process.exitCode !== null) throw new Error(`${s.name} exited with ${s.process.exitCode}`);
          return (await fetch(`${s.url}/readyz`)).status === 200;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `${s.name} ready` },
      ),
    ),
  );
  return {
    prefix,
    services,
    async stop() {
      await Promise.all(Object.values(services).map((s) => stopProcess(s.process)));
      for (const db of databases) await dropDatabase(TEST_MYSQL_URL, db);
      await deleteTestTopics(prefix);
    },
  };
}

/** SIGTERM and wait for the exit code. */
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
