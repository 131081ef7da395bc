import express, { type Express, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { runWithCorrelationId } from './context.js';
import { AppError, errorHandler, notFoundHandler } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { openApiDocument, serveApiDocs, type RouteDoc } from './openapi.js';

export type ReadinessCheck = () => Promise<void>;

export interface HttpAppOptions {
  logger: Logger;
  metrics: Metrics;
  /** Named dependency checks for /readyz; each throws when its dependency is not usable. */
  readiness: Record<string, ReadinessCheck>;
  /**
   * What /readyz reports beside the checks without failing them: usable, but not as configured
   * (e.g. topics with fewer replicas than KAFKA_REPLICATION_FACTOR). Keyed like the checks.
   */
  readinessDetails?: ReadonlyMap<string, string>;
  routes: (app: Express) => void;
  /** The service's route descriptions, served as OpenAPI at /openapi.json and /docs. */
  api?: { title: string; version: string; description?: string; routes: RouteDoc[] };
}

const REQUEST_ID = /^[\w.:-]+$/;
/** The envelope's correlationId limit: the id travels in every event of the flow. */
const REQUEST_ID_MAX = 128;

/**
 * Honour a sane incoming x-request-id, cut to 128 characters (a caller's over-long id still
 * finds its flow by its start); otherwise make one. Echo it and run the request in its context.
 */
const requestId: RequestHandler = (req, res, next) => {
  const incoming = req.get('x-request-id');
  const id = incoming && REQUEST_ID.test(incoming) ? incoming.slice(0, REQUEST_ID_MAX) : randomUUID();
  res.setHeader('x-request-id', id);
  (req as { id?: string }).id = id;
  runWithCorrelationId(id, next);
};

/**
 * HTTP/1.1 requires a Host header (RFC 9112 §3.2). Node's server refuses a request without one
 * before Express runs, with an empty 400; createHttpServer turns that off so it is answered here,
 * logged and in the JSON error body. The connection is closed, as Node would.
 */
const requireHost: RequestHandler = (req, res, next) => {
  if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
    res.setHeader('connection', 'close');
    next(new AppError('missing_host', 'An HTTP/1.1 request must have a Host header', 400));
    return;
  }
  next();
};

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** A request that carries a body must say it is JSON. An empty body is left to the route's schema. */
const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (BODY_METHODS.has(req.method) && hasBody && !req.is('application/json')) {
    next(new AppError('unsupported_media_type', 'Content-Type must be application/json', 415));
    return;
  }
  next();
};

function observeLatency(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      // The matched route pattern, never the raw path: ids would explode the label set.
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  };
}

async function checkAll(readiness: Record<string, ReadinessCheck>): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(readiness).map(async ([name, check]) => {
      try {
        await check();
        return [name, 'ok'] as const;
      } catch (err) {
        return [name, err instanceof Error ? err.message : String(err)] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}

/** The Express app every service shares: ids, logs, JSON parsing and errors, health, metrics. */
export function createHttpApp({
  logger,
  metrics,
  readiness,
  readinessDetails,
  routes,
  api,
}: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // Nobody sends conditional requests to this API; hashing every body cost ~20 % of a request's CPU.
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestId);
  app.use(
    pinoHttp({
      logger,
      genReqId: (req) => (req as { id?: string }).id ?? randomUUID(),
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      // One short line per request: the correlation id is already on it, headers are noise.
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customSuccessMessage: (req, res, ms) =>
        `${req.method} ${req.url} ${res.statusCode} ${Math.round(ms)}ms`,
      autoLogging: {
        ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
      },
    }),
  );
  app.use(observeLatency(metrics));
  app.use(requireHost);
  app.use(requireJson);
  app.use(express.json({ limit: '100kb', strict: false }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await checkAll(readiness);
    const ready = Object.values(checks).every((v) => v === 'ok');
    const details = readinessDetails?.size ? { details: Object.fromEntries(readinessDetails) } : {};
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks, ...details });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  if (api) {
    const { routes: docs, ...info } = api;
    serveApiDocs(app, openApiDocument(info, docs));
  }
  routes(app);
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}

/** A request line longer than this, refused by Node's parser, is answered 414 rather than 431. */
const REQUEST_LINE_LIMIT = 8 * 1024;

function clientErrorAnswer(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): [number, string, string] {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    const [firstLine = ''] = (err.rawPacket?.toString('latin1') ?? '').split('\r\n', 1);
    return /^[A-Z]+ /.test(firstLine) && firstLine.length > REQUEST_LINE_LIMIT
      ? [414, 'uri_too_long', 'The request path is too long']
      : [431, 'headers_too_large', 'The request headers are larger than 16 kB'];
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [408, 'request_timeout', 'The request took too long to arrive'];
  return [400, 'malformed_request', 'The request is not valid HTTP'];
}

/**
 * Requests Node's HTTP parser refuses never reach Express; without this they get Node's bare
 * 400/431 with no body. Here they get the same JSON error body as everything else: a path over
 * the 16 kB header limit is 414, other oversized headers 431, unparsable requests 400.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    const answered = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || answered) {
      socket.destroy();
      return;
    }
    const [status, code, message] = clientErrorAnswer(err);
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}

/**
 * The HTTP server of an app made by createHttpApp, as every service and test listens with it:
 * requests refused before Express runs get the JSON error body too.
 */
export function createHttpServer(app: Express): Server {
  const server = createServer({ requireHostHeader: false }, app);
  answerClientErrors(server);
  return server;
}
