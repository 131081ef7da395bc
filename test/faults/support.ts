/**
 * Servers a fault test owns, so it can stop, kill and restart them without touching the
 * machine's: a Kafka broker (the infra/kafka jars and config template, its own ports and data
 * dir), a redis-server and a mariadbd, each on a free port, all under one temp dir. A watchdog
 * kills them and removes the dir if the test process dies without cleaning up.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '@delivery/common/testing';
import { ROOT, freePort } from '../support.js';

const run = promisify(execFile);

export interface Sandbox {
  dir: string;
  /** Start a server process we own: output to `<dir>/<name>.log`, killed by cleanup() or the watchdog. */
  spawn(name: string, command: string, args: string[]): ChildProcess;
  /** Kill every server still running and remove the dir. */
  cleanup(): Promise<void>;
}

const WATCHDOG = `
parent="$1"; pids="$2"; dir="$3"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
# The test process is gone without cleaning up: kill what it left running.
if [ -f "$pids" ]; then while read -r pid; do kill -9 "$pid" 2>/dev/null; done < "$pids"; fi
rm -rf "$dir"`;

export function createSandbox(name: string): Sandbox {
  const dir = mkdtempSync(path.join(tmpdir(), `faults-${name}-`));
  const pidFile = path.join(dir, 'pids');
  const live = new Set<ChildProcess>();
  const writePids = () => writeFileSync(pidFile, [...live].map((c) => `${c.pid}\n`).join(''));
  const watchdog = spawn('bash', ['-c', WATCHDOG, 'watchdog', String(process.pid), pidFile, dir], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  return {
    dir,
    spawn(server, command, args) {
      const log = openSync(path.join(dir, `${server}.log`), 'a');
      const child = spawn(command, args, { cwd: dir, stdio: ['ignore', log, log] });
      closeSync(log);
      live.add(child);
      writePids();
      child.once('exit', () => {
        live.delete(child);
        writePids();
      });
      return child;
    },
    async cleanup() {
      await Promise.all([...live].map((c) => killProcess(c, 'SIGKILL')));
      watchdog.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Signal the process and wait until it has exited. */
export function killProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** A server we own: stop (SIGTERM, clean) or kill (SIGKILL) it, and start it again on the same port and data. */
export interface OwnedServer {
  port: number;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Signal the process and return at once: SIGSTOP hangs it (connections stay open), SIGCONT resumes it. */
  signal(signal: NodeJS.Signals): void;
}

function ownedServer(
  port: number,
  launch: () => ChildProcess,
  ready: () => Promise<boolean>,
  what: string,
): OwnedServer {
  let child: ChildProcess | undefined;
  return {
    port,
    async start() {
      const proc = launch();
      child = proc;
      await waitFor(
        async () => {
          if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
          return ready();
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `${what} on port ${port}` },
      );
    },
    async stop(signal = 'SIGTERM') {
      if (child) await killProcess(child, signal);
    },
    signal(signal) {
      child?.kill(signal);
    },
  };
}

/** The jars infra/kafka/fetch.sh puts in place for the version pinned in its pom (the one place it is written). */
export function kafkaCache(): string {
  const pom = readFileSync(path.join(ROOT, 'infra/kafka/pom.xml'), 'utf8');
  const version = /<kafka\.version>(.+?)<\/kafka\.version>/.exec(pom)?.[1];
  if (!version) throw new Error('no <kafka.version> in infra/kafka/pom.xml');
  return path.join(ROOT, 'infra/.cache', `kafka-${version}`);
}

/** A single-node KRaft broker from the infra/kafka jars and template, on free ports, data kept across restarts. */
export async function startKafka(sandbox: Sandbox): Promise<OwnedServer & { brokers: string[] }> {
  const cache = kafkaCache();
  if (!existsSync(path.join(cache, 'libs.complete')))
    throw new Error('Kafka jars missing: run `bash infra/kafka/fetch.sh` (make test-faults does)');
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dataDir = path.join(sandbox.dir, 'kafka');
  mkdirSync(dataDir, { recursive: true });
  const props = path.join(dataDir, 'server.properties');
  writeFileSync(
    props,
    readFileSync(path.join(ROOT, 'infra/kafka/server.properties.template'), 'utf8')
      .replaceAll('@BROKER_PORT@', String(port))
      .replaceAll('@CONTROLLER_PORT@', String(controllerPort))
      .replaceAll('@DATA_DIR@', dataDir),
  );
  const java = [
    '-cp',
    `${cache}/libs/*`,
    `-Dlog4j2.configurationFile=${path.join(ROOT, 'infra/kafka/log4j2.xml')}`,
  ];
  const clusterId = randomBytes(16).toString('base64url').replace(/^-/, 'A');
  const format = spawnSync(
    'java',
    ['-Xmx256m', ...java, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props],
    {
      encoding: 'utf8',
    },
  );
  if (format.status !== 0) throw new Error(`formatting the broker's data dir failed: ${format.stderr}`);
  const server = ownedServer(
    port,
    () =>
      sandbox.spawn('kafka', 'java', ['-Xms128m', '-Xmx384m', '-XX:+UseG1GC', ...java, 'kafka.Kafka', props]),
    // The infra scripts' own readiness probe: the broker answers Metadata and lists itself (unfenced).
    () =>
      run('bash', ['-c', `source infra/kafka/common.sh && kafka_serves_metadata 127.0.0.1 ${port}`], {
        cwd: ROOT,
      }).then(
        () => true,
        () => false,
      ),
    'kafka',
  );
  await server.start();
  return { ...server, brokers: [`127.0.0.1:${port}`] };
}

/** redis-server without persistence: a restart comes back empty, as DESIGN.md §6 expects. */
export async function startRedis(sandbox: Sandbox): Promise<OwnedServer & { url: string }> {
  const port = await freePort();
  const server = ownedServer(
    port,
    () =>
      sandbox.spawn('redis', 'redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        sandbox.dir,
      ]),
    () =>
      run('redis-cli', ['-p', String(port), 'ping']).then(
        ({ stdout }) => stdout.trim() === 'PONG',
        () => false,
      ),
    'redis-server',
  );
  await server.start();
  return { ...server, url: `redis://127.0.0.1:${port}` };
}

function findBinary(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    if (existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`${name} not found: apt-get install -y mariadb-server`);
}

/** A mariadbd of our own: fresh data dir, root without password over TCP, no binary log. */
export async function startMariaDb(sandbox: Sandbox): Promise<OwnedServer & { url: string }> {
  const port = await freePort();
  const base = path.join(sandbox.dir, 'mysql');
  const install = spawnSync(
    findBinary('mariadb-install-db'),
    [
      '--no-defaults',
      `--datadir=${base}/data`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--user=root',
    ],
    { encoding: 'utf8' },
  );
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`);
  const server = ownedServer(
    port,
    () =>
      sandbox.spawn('mariadbd', findBinary('mariadbd'), [
        '--no-defaults',
        `--datadir=${base}/data`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${base}/sock`,
        `--pid-file=${base}/pid`,
        '--user=root',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=64M',
        `--log-error=${base}/error.log`,
      ]),
    () =>
      run(findBinary('mysqladmin'), [
        '--protocol=tcp',
        '-h',
        '127.0.0.1',
        '-P',
        String(port),
        '-u',
        'root',
        'ping',
      ]).then(
        () => true,
        () => false,
      ),
    'mariadbd',
  );
  await server.start();
  return { ...server, url: `mysql://root@127.0.0.1:${port}` };
}
