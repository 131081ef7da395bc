import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createKafka, createLogger } from '@delivery/common';
import { TEST_KAFKA_BROKERS, deleteTestTopics, testTopicPrefix, uniqueId } from '@delivery/common/testing';
import { ROOT, freePort, startProcess, stopProcess } from './support.js';

describe('a service on a cluster with fewer brokers than KAFKA_REPLICATION_FACTOR', () => {
  const prefix = testTopicPrefix();
  after(() => deleteTestTopics(prefix));

  it('refuses to start: exit 1, a fatal line naming the factor and the brokers, no topic created', async () => {
    const admin = createKafka({
      clientId: 'test-refusal',
      brokers: TEST_KAFKA_BROKERS,
      logger: createLogger({ service: 'test', level: 'silent' }),
    }).admin();
    await admin.connect();
    const brokers = (await admin.describeCluster()).brokers.length;
    const logDir = path.join(ROOT, '.run', 'test-logs', uniqueId());
    mkdirSync(logDir, { recursive: true });
    const logFile = path.join(logDir, 'order-service.log');

    const child = startProcess(
      'order-service',
      {
        PORT: String(await freePort()),
        MYSQL_DATABASE: `orders_test_${uniqueId()}`,
        KAFKA_BROKERS: TEST_KAFKA_BROKERS.join(','),
        KAFKA_TOPIC_PREFIX: prefix,
        KAFKA_REPLICATION_FACTOR: String(brokers + 1),
      },
      logFile,
    );
    try {
      assert.equal(await exitCode(child, 30_000), 1);
    } finally {
      await stopProcess(child);
    }

    const fatal = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .find((l) => l.level === 'fatal');
    assert.match(
      fatal?.msg ?? '',
      new RegExp(
        `KAFKA_REPLICATION_FACTOR ${brokers + 1} needs at least ${brokers + 1} brokers, but the cluster has ${brokers} broker`,
      ),
    );
    const created = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.disconnect();
    assert.deepEqual(created, []);
  });
});

/** The process's exit code, or a failure when it is still running after `timeoutMs`. */
function exitCode(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
