import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import knex from 'knex';
import {
  ClientClosedError,
  ClientOfflineError,
  ErrorReply,
  SocketClosedUnexpectedlyError,
  TimeoutError,
  createClient,
} from 'redis';
import { ZodError } from 'zod';
import { AppError, createDb, failureSignature, isTransientError } from '@delivery/common';
import { TEST_MYSQL_URL } from '@delivery/common/testing';

// CommonJS packages whose error classes Node finds on the default export only.
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSRequestTimeoutError } = kafkajs;
const { KnexTimeoutError } = knex;

/** A mysql2 server error as the driver builds it: message, code name, errno. */
const serverError = (message: string, code: string | undefined, errno: number) =>
  Object.assign(new Error(message), { code, errno, sqlState: 'HY000' });

/** What a query on `url` fails with. */
async function queryFailure(url: string, sql: string, bindings: unknown[] = []): Promise<unknown> {
  const db = createDb({ url, database: 'information_schema' });
  try {
    await db.raw(sql, bindings as never);
    throw new Error(`${sql} succeeded`);
  } catch (err) {
    return err;
  } finally {
    await db.destroy();
  }
}

describe('isTransientError', () => {
  const cases: [string, unknown, boolean][] = [
    ['lock wait timeout', serverError('Lock wait timeout exceeded', 'ER_LOCK_WAIT_TIMEOUT', 1205), true],
    ['deadlock', serverError('Deadlock found when trying to get lock', 'ER_LOCK_DEADLOCK', 1213), true],
    [
      'MariaDB killing the connection at shutdown',
      serverError('Connection was killed', undefined, 1927),
      true,
    ],
    [
      'the connection lost',
      Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      true,
    ],
    [
      'the pool waiting for a connection in vain',
      new KnexTimeoutError('Knex: Timeout acquiring a connection'),
      true,
    ],
    ['Redis client closed', new ClientClosedError(), true],
    ['Redis client offline (no offline queue)', new ClientOfflineError(), true],
    ['Redis socket closed', new SocketClosedUnexpectedlyError(), true],
    ['a Redis command timing out', new TimeoutError(), true],
    ['Redis still loading its data', new ErrorReply('LOADING Redis is loading the dataset in memory'), true],
    ['Kafka unreachable', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), true],
    [
      'Kafka timing out',
      new KafkaJSRequestTimeoutError('Request Metadata(key: 3, version: 6) timed out'),
      true,
    ],
    [
      'Kafka retries exhausted',
      new KafkaJSNumberOfRetriesExceeded(new Error('broker gone'), { retryCount: 5, retryTime: 100 }),
      true,
    ],
    [
      'a dependency the domain reports unavailable',
      new AppError('dependency_unavailable', 'retry later', 503),
      true,
    ],
    [
      'a socket error as the cause of another',
      new Error('upstream failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }),
      true,
    ],
    [
      'a value too long for its column',
      serverError("Data too long for column 'order_number' at row 1", 'ER_DATA_TOO_LONG', 1406),
      false,
    ],
    ['a duplicate key', serverError("Duplicate entry '7' for key 'PRIMARY'", 'ER_DUP_ENTRY', 1062), false],
    [
      'a Redis command refused for what it is',
      new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'),
      false,
    ],
    ['a business rule', new AppError('vehicle_not_allocated', 'ABC-1234 has no order', 409), false],
    ['invalid data', new ZodError([]), false],
    ['a plain error', new Error('boom'), false],
    ['a thrown string', 'boom', false],
  ];
  for (const [what, err, transient] of cases)
    it(`${what}: ${transient ? 'transient' : 'not transient'}`, () =>
      assert.equal(isTransientError(err), transient));

  it('what mysql2 and node-redis really throw: refused connection and closed client transient, a bad statement not', async () => {
    assert.equal(isTransientError(await queryFailure('mysql://root@127.0.0.1:1', 'SELECT 1')), true);
    assert.equal(
      isTransientError(await queryFailure(TEST_MYSQL_URL, 'SELECT * FROM no_such_table_here')),
      false,
    );
    const redis = createClient({ url: 'redis://127.0.0.1:6379' });
    const closed = await redis.get('x').then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal(isTransientError(closed), true);
  });
});

describe('failureSignature', () => {
  it('a statement failing the same way with another timestamp bound is the same failure, though knex words it anew', async () => {
    const sql = 'SELECT ? AS at FROM DUAL WHERE no_such_column = 1';
    const first = (await queryFailure(TEST_MYSQL_URL, sql, [new Date(1_000)])) as Error;
    const second = (await queryFailure(TEST_MYSQL_URL, sql, [new Date(2_000)])) as Error;
    assert.notEqual(first.message, second.message, 'knex puts the bound values in the message');
    assert.equal(failureSignature(first), failureSignature(second));
  });

  it('errors differing in name, code or message are different failures', () => {
    const base = failureSignature(new Error('boom'));
    assert.equal(failureSignature(new Error('boom')), base);
    assert.notEqual(failureSignature(new TypeError('boom')), base);
    assert.notEqual(failureSignature(Object.assign(new Error('boom'), { code: 'E1' })), base);
    assert.notEqual(failureSignature(new Error('boom 2')), base);
  });
});
