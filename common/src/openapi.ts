import express, { type Express } from 'express';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * OpenAPI 3 documents built from the zod schemas the routes validate with, so a schema is
 * written once: the route parses with it and the document describes it.
 */
export type HttpMethod = 'get' | 'post' | 'patch' | 'put' | 'delete';

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
}

export interface RouteDoc {
  method: HttpMethod;
  /** Express form, e.g. `/orders/:id`. */
  path: string;
  summary: string;
  tags?: string[];
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, ResponseDoc>;
}

/** An error as the JSON error body carries it (errors.ts): a stable code and a message for people. */
export const errorJson = z.object({ code: z.string(), message: z.string() });

/** Every 4xx and 5xx answer (DESIGN.md §3); a response doc without a schema at ≥ 400 means this. */
export const errorBody = z.object({
  error: errorJson.extend({
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/** The 401 of a route behind `requireInternalToken`. */
export const internalTokenRefused: ResponseDoc = {
  description: 'unauthorized: INTERNAL_TOKEN is set and the request does not carry it',
};

/** The routes every service's shared app serves (health, readiness, metrics, these docs). */
export const platformRoutes: RouteDoc[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'The process is up',
    tags: ['ops'],
    responses: { 200: { description: 'up' } },
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Database, Kafka (and Redis) are usable',
    tags: ['ops'],
    responses: { 200: { description: 'ready' }, 503: { description: 'names what is not usable' } },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tags: ['ops'],
    responses: { 200: { description: 'text format' } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tags: ['ops'],
    responses: { 200: { description: 'OpenAPI 3' } },
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'Swagger UI for this document',
    tags: ['ops'],
    responses: { 200: { description: 'HTML' } },
  },
];

/** A schema as the document carries it: what a client sends (`input`) or what a route answers (`output`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
    // What a service sends is described by its format ("date-time"); zod's long regex for that
    // format is how it checks input, and only clutters a response.
    override: ({ jsonSchema: out }) => {
      if (io === 'output' && out.format) delete out.pattern;
    },
  });
  return rest;
}

const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

function parameters(where: 'path' | 'query', shape: z.ZodObject | undefined) {
  if (!shape) return [];
  const schema = jsonSchema(shape, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (schema.required ?? []).includes(name),
    schema: s,
  }));
}

function operation(route: RouteDoc) {
  return {
    summary: route.summary,
    tags: route.tags,
    parameters: [...parameters('path', route.params), ...parameters('query', route.query)],
    ...(route.body
      ? {
          requestBody: {
            // A body schema that accepts no body at all (`.optional()`) documents an optional body.
            required: !route.body.safeParse(undefined).success,
            content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries(route.responses).map(([status, r]) => [
        status,
        {
          description: r.description,
          ...((r.schema ?? Number(status) >= 400)
            ? { content: { 'application/json': { schema: jsonSchema(r.schema ?? errorBody, 'output') } } }
            : {}),
        },
      ]),
    ),
  };
}

export function openApiDocument(
  info: { title: string; version: string; description?: string },
  routes: RouteDoc[],
) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...routes, ...platformRoutes]) {
    const key = toOpenApiPath(route.path);
    paths[key] = { ...paths[key], [route.method]: operation(route) };
  }
  return { openapi: '3.0.3', info, paths };
}

// Only the package's location: requiring it would evaluate its whole UI bundle (~1 s of CPU
// at every start on this machine) to answer a path.
const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const DOCS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>API docs</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });</script>
</body></html>`;

/** GET /openapi.json and GET /docs (Swagger UI from the swagger-ui-dist package, no CDN). */
export function serveApiDocs(app: Express, document: object): void {
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  app.use('/docs/assets', express.static(swaggerUiDir, { index: false }));
}

/** Every method+path the app routes, as `GET /orders/:id`, read from Express's own router. */
export function listRoutes(app: Express): string[] {
  const out: string[] = [];
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${layer.route.path}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

export function documentedRoutes(routes: RouteDoc[]): string[] {
  return [...routes, ...platformRoutes].map((r) => `${r.method.toUpperCase()} ${r.path}`);
}
