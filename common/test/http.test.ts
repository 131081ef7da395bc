import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { createHttpApp, createHttpServer, createMetrics, AppError, toAppError } from '@delivery/common';
import { call, captureLogger, listen, type ApiResponse, type ErrorBody } from '@delivery/common/testing';

describe('the shared HTTP app', () => {
  const { logger, lines } = captureLogger();
  let server: Awaited<ReturnType<typeof listen>>;
  let kafkaUp = true;
  const body = z.object({ name: z.string().min(1), count: z.number().int() }).strict();

  before(async () => {
    const app = createHttpApp({
      logger,
      metrics: createMetrics('test'),
      readiness: {
        database: async () => {},
        kafka: async () => {
          if (!kafkaUp) throw new Error('broker unreachable');
        },
      },
      routes: (app) => {
        app.post('/things', (req, res) => {
          res.status(201).json(body.parse(req.body));
        });
        app.get('/conflict', () => {
          throw new AppError('already_there', 'thing exists', 409);
        });
        app.get('/boom', async () => {
          throw new Error('secret internals');
        });
      },
    });
    server = await listen(app);
  });
  after(() => server.close());

  /** A raw body, under a JSON content type unless `headers` give another. */
  const post = <T = ErrorBody>(payload: string, headers: Record<string, string> = {}) =>
    call<T>('POST', `${server.url}/things`, payload, headers);
  const get = <T = ErrorBody>(path: string, headers: Record<string, string> = {}) =>
    call<T>('GET', `${server.url}${path}`, undefined, headers);

  it('when the body is valid, the route answers', async () => {
    const res = await post(JSON.stringify({ name: 'a', count: 1 }));
    assert.equal(res.status, 201);
    assert.deepEqual(res.body, { name: 'a', count: 1 });
  });

  it('when a field is wrong, 400 validation_failed names each bad field', async () => {
    const res = await post(JSON.stringify({ name: '', count: 1.5, extra: true }));
    assert.equal(res.status, 400);
    const { error } = res.body;
    assert.equal(error.code, 'validation_failed');
    const paths = (error.details ?? []).map((d) => d.path).sort();
    assert.deepEqual(paths, ['count', 'extra', 'name']);
  });

  it('when the JSON is malformed, 400 malformed_json', async () => {
    const res = await post('{"name": ');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'malformed_json');
  });

  it('when the body is over 100 kB, 413', async () => {
    const res = await post(JSON.stringify({ name: 'x'.repeat(101 * 1024), count: 1 }));
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'payload_too_large');
  });

  it('when the content type is not JSON, 415', async () => {
    const res = await post('name=a', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 415);
    assert.equal(res.body.error.code, 'unsupported_media_type');
  });

  it('when the route is unknown, 404 JSON', async () => {
    const res = await get('/nope');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'not_found');
  });

  it('an AppError keeps its status and code', async () => {
    const res = await get('/conflict');
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, { error: { code: 'already_there', message: 'thing exists' } });
  });

  it('an unexpected error is a 500 that hides its message and is logged with the request id', async () => {
    const res = await get('/boom', { 'x-request-id': 'req-boom-1' });
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text, /secret internals/);
    const logged = lines.find((l) => l.msg === 'request failed');
    assert.ok(logged, 'the failure is logged');
    assert.equal(logged.correlationId, 'req-boom-1');
  });

  it('honours an incoming x-request-id and generates one otherwise', async () => {
    const given = await get('/healthz', { 'x-request-id': 'abc-123' });
    assert.equal(given.headers.get('x-request-id'), 'abc-123');
    const made = await get('/healthz');
    assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('an x-request-id over 128 characters is cut to its first 128, echoed and used as the correlation id', async () => {
    const sent = `req-${'0123456789'.repeat(20)}`;
    const res = await get('/boom', { 'x-request-id': sent });
    assert.equal(res.headers.get('x-request-id'), sent.slice(0, 128));
    const logged = lines.findLast((l) => l.msg === 'request failed');
    assert.equal(logged?.correlationId, sent.slice(0, 128));
  });

  it('an x-request-id with characters outside [A-Za-z0-9_.:-] is replaced by a new UUID, whatever its length', async () => {
    for (const sent of ['bad id', `bad id ${'x'.repeat(200)}`]) {
      const res = await get('/healthz', { 'x-request-id': sent });
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, sent);
    }
  });

  it('/readyz is 200 when every dependency answers and 503 naming the one that does not', async () => {
    const ok = await get('/readyz');
    assert.equal(ok.status, 200);
    kafkaUp = false;
    const down = await get('/readyz');
    kafkaUp = true;
    assert.equal(down.status, 503);
    assert.deepEqual(down.body, {
      status: 'not_ready',
      checks: { database: 'ok', kafka: 'broker unreachable' },
    });
  });

  it('/metrics serves Prometheus text with the route latency histogram', async () => {
    const res = await get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /http_request_duration_seconds_bucket\{.*route="\/things"/);
  });
});

describe('requests refused before a route runs still get a JSON error', () => {
  let url: string;
  let server: ReturnType<typeof createHttpServer>;

  before(async () => {
    const app = createHttpApp({
      logger: captureLogger().logger,
      metrics: createMetrics('test'),
      readiness: {},
      routes: (app) => {
        app.get('/items/:id', (req, res) => {
          res.json({ id: req.params.id });
        });
        app.post('/items', (req, res) => {
          res.json(req.body);
        });
      },
    });
    server = createHttpServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const errorOf = (res: ApiResponse<ErrorBody>) => {
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    return res.body.error.code;
  };

  it('a path that is not valid percent-encoding: 400 malformed_path, not 500', async () => {
    const res = await call<ErrorBody>('GET', `${url}/items/%E0%A4%A`);
    assert.equal(res.status, 400);
    assert.equal(errorOf(res), 'malformed_path');
  });

  it('a body that does not inflate as its content-encoding says: 400 malformed_body, not 500', async () => {
    const res = await call<ErrorBody>('POST', `${url}/items`, '{"a":1}', { 'content-encoding': 'gzip' });
    assert.equal(res.status, 400);
    assert.equal(errorOf(res), 'malformed_body');
  });

  it('a path beyond the header limit: 414 uri_too_long as JSON (Node alone answers a bare 431)', async () => {
    const res = await call<ErrorBody>('GET', `${url}/${'a'.repeat(20_000)}`);
    assert.equal(res.status, 414);
    assert.equal(errorOf(res), 'uri_too_long');
  });

  it('headers beyond the limit: 431 headers_too_large as JSON', async () => {
    const res = await call<ErrorBody>('GET', `${url}/items/1`, undefined, { 'x-junk': 'j'.repeat(20_000) });
    assert.equal(res.status, 431);
    assert.equal(errorOf(res), 'headers_too_large');
  });

  /** What the server answers to `request` sent as it is on a raw socket, up to its close. */
  const rawExchange = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const { port } = server.address() as AddressInfo;
      let data = '';
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });

  it('a request that is not HTTP: 400 malformed_request as JSON', async () => {
    const reply = await rawExchange('HELLO\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /"code":"malformed_request"/);
  });

  it('an HTTP/1.1 request without a Host header: 400 missing_host as JSON, and the connection is closed', async () => {
    const reply = await rawExchange('GET /healthz HTTP/1.1\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /\r\ncontent-type: application\/json/i);
    assert.match(reply, /\r\nconnection: close\r\n/i);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as {
      error: { code: string; message: string };
    };
    assert.equal(body.error.code, 'missing_host');
    assert.match(body.error.message, /Host/);
  });

  it('an HTTP/1.0 request without a Host header is still answered (Host is required from HTTP/1.1)', async () => {
    const reply = await rawExchange('GET /healthz HTTP/1.0\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 200 /);
  });
});

describe('toAppError: a database that went away is 503, whatever mysql2 calls it', () => {
  for (const [what, err] of [
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    [
      'pool timeout',
      Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' }),
    ],
    [
      'server shutting down',
      Object.assign(new Error('Server shutdown in progress'), { code: 'ER_SERVER_SHUTDOWN' }),
    ],
    [
      'a closed connection (no code, fatal)',
      Object.assign(new Error("ROLLBACK - Can't add new command when connection is in closed state"), {
        fatal: true,
      }),
    ],
  ] as [string, Error][]) {
    it(`${what}: 503 dependency_unavailable`, () => {
      const mapped = toAppError(err);
      assert.equal(mapped.status, 503);
      assert.equal(mapped.code, 'dependency_unavailable');
    });
  }

  for (const [what, errno, code] of [
    ['a deadlock', 1213, 'ER_LOCK_DEADLOCK'],
    ['a lock wait timeout', 1205, 'ER_LOCK_WAIT_TIMEOUT'],
  ] as const) {
    it(`${what} (the transaction rolled back, a retry can succeed): 503 transaction_conflict`, () => {
      const mapped = toAppError(Object.assign(new Error(what), { errno, code }));
      assert.equal(mapped.status, 503);
      assert.equal(mapped.code, 'transaction_conflict');
    });
  }

  it('any other error stays a 500', () => {
    assert.equal(
      toAppError(Object.assign(new Error('syntax'), { errno: 1064, code: 'ER_PARSE_ERROR' })).status,
      500,
    );
  });
});
