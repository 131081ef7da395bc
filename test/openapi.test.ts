import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Express } from 'express';
import { z } from 'zod';
import {
  createRuntime,
  documentedRoutes,
  listRoutes,
  type RouteDoc,
  type ServiceRuntime,
} from '@delivery/common';
import { call, listen } from '@delivery/common/testing';
import { createApp as orderApp } from '../order-service/src/app.js';
import { loadConfig as orderConfig } from '../order-service/src/config.js';
import { orderRouteDocs } from '../order-service/src/orders/orders-api-docs.js';
import { createApp as inventoryApp } from '../inventory-service/src/app.js';
import { loadConfig as inventoryConfig } from '../inventory-service/src/config.js';
import { productRouteDocs } from '../inventory-service/src/products/products-api-docs.js';
import { loadConfig as dispatcherConfig } from '../dispatcher-service/src/config.js';
import { createDispatcher } from '../dispatcher-service/src/dispatcher.js';
import { createRedis } from '../dispatcher-service/src/redis.js';
import { vehicleRouteDocs } from '../dispatcher-service/src/vehicles/vehicles-api-docs.js';
import type { DeliveryResult } from '../order-service/src/orders/change-order-status.js';
import { deliveriesResponse, orderResponse } from '../order-service/src/orders/order-schemas.js';
import type { Order } from '../order-service/src/orders/orders-repository.js';
import { productResponse } from '../inventory-service/src/products/product-schemas.js';
import type { Product } from '../inventory-service/src/products/products-repository.js';
import type { currentAssignment } from '../dispatcher-service/src/dispatch/release-vehicle.js';
import type { RegisteredVehicle } from '../dispatcher-service/src/vehicles/register-vehicle.js';
import type { ReleasedVehicle } from '../dispatcher-service/src/dispatch/release-vehicle.js';
import {
  registeredVehicle,
  releasedVehicle,
  vehicleAssignment,
  vehicleListing,
} from '../dispatcher-service/src/vehicles/vehicle-schemas.js';
import type { VehicleListing } from '../dispatcher-service/src/vehicles/vehicles-repository.js';

/** A value as res.json sends it: Dates become ISO strings. */
type Json<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;
/** Assignable both ways with the same keys: a field on one side only (even an optional one) fails. */
type Same<A, B> = [A, keyof A] extends [B, keyof B]
  ? [B, keyof B] extends [A, keyof A]
    ? true
    : false
  : false;

// The response schemas describe and are never parsed with, so the type-check holds them to what the
// domain functions return: a field added to, renamed in or dropped from either side fails here.
const _responseSchemasMatchTheDomain: true[] = [
  true satisfies Same<z.output<typeof orderResponse>, Json<Order>>,
  true satisfies Same<z.output<typeof deliveriesResponse>['results'][number], DeliveryResult>,
  true satisfies Same<z.output<typeof productResponse>, Json<Product>>,
  true satisfies Same<z.output<typeof registeredVehicle>, RegisteredVehicle>,
  true satisfies Same<z.output<typeof vehicleListing>, VehicleListing[]>,
  true satisfies Same<z.output<typeof vehicleAssignment>, Awaited<ReturnType<typeof currentAssignment>>>,
  true satisfies Same<z.output<typeof releasedVehicle>, ReleasedVehicle>,
];

// Building an app opens no connection (clients connect on first use), so no infrastructure is needed.
const runtimes: ServiceRuntime[] = [];
function runtime(name: string, config: ServiceRuntime['config']): ServiceRuntime {
  const rt = createRuntime(name, { ...config, LOG_LEVEL: 'silent' });
  runtimes.push(rt);
  return rt;
}

const dispatcherSettings = dispatcherConfig({});
const apps: [string, () => Express, RouteDoc[]][] = [
  ['order-service', () => orderApp(runtime('order-service', orderConfig({}))), orderRouteDocs],
  [
    'inventory-service',
    () => inventoryApp(runtime('inventory-service', inventoryConfig({}))),
    productRouteDocs,
  ],
  [
    'dispatcher-service',
    () =>
      createDispatcher(
        runtime('dispatcher-service', dispatcherSettings),
        createRedis(dispatcherSettings.REDIS_URL, runtimes[0]!.logger),
        dispatcherSettings,
      ).app,
    vehicleRouteDocs,
  ],
];

describe('OpenAPI documents generated from the route schemas', () => {
  after(async () => {
    for (const rt of runtimes) await rt.db.destroy();
  });

  for (const [name, build, docs] of apps) {
    it(`${name}: every route it serves is described, and nothing else`, async () => {
      const app = build();
      assert.deepEqual(listRoutes(app).sort(), documentedRoutes(docs).sort());
      const server = await listen(app);
      try {
        const res = await call<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
          'GET',
          `${server.url}/openapi.json`,
        );
        assert.equal(res.status, 200);
        const doc = res.body;
        assert.equal(doc.openapi, '3.0.3');
        for (const route of docs) {
          const path = route.path.replace(/:(\w+)/g, '{$1}');
          assert.ok(doc.paths[path]?.[route.method], `${route.method} ${path} is in the document`);
        }
        const ui = await call('GET', `${server.url}/docs`);
        assert.equal(ui.status, 200);
        assert.match(ui.text, /swagger-ui-bundle\.js/);
        assert.equal((await call('GET', `${server.url}/docs/assets/swagger-ui-bundle.js`)).status, 200);
      } finally {
        await server.close();
      }
    });
  }

  it('a request body in the document carries the same limits the route validates', async () => {
    const server = await listen(apps[0]![1]());
    try {
      const { body: doc } = await call<{
        paths: Record<
          string,
          {
            post?: {
              requestBody: {
                content: Record<
                  string,
                  {
                    schema: {
                      properties: Record<string, { maxLength?: number; maxItems?: number }>;
                      additionalProperties: boolean;
                    };
                  }
                >;
              };
            };
          }
        >;
      }>('GET', `${server.url}/openapi.json`);
      const schema = doc.paths['/orders']!.post!.requestBody.content['application/json']!.schema;
      assert.equal(schema.properties.city?.maxLength, 100);
      assert.equal(schema.properties.items?.maxItems, 100);
      assert.equal(schema.additionalProperties, false, 'unknown fields are refused, and documented so');
    } finally {
      await server.close();
    }
  });

  for (const [name, build, docs] of apps) {
    it(`${name}: each body and parameter documented is, as JSON Schema, the zod schema its route parses`, async () => {
      const doc = await servedDocument(build());
      for (const route of docs) {
        const op = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]![route.method]!;
        const where = `${route.method} ${route.path}`;
        if (route.body) {
          assert.deepEqual(
            op.requestBody?.content['application/json']?.schema,
            requestSide(route.body),
            where,
          );
          assert.equal(
            op.requestBody?.required,
            !route.body.safeParse(undefined).success,
            `${where}: body optional?`,
          );
        } else {
          assert.equal(op.requestBody, undefined, `${where} takes no body`);
        }
        const documented = Object.fromEntries(op.parameters.map((p) => [`${p.in} ${p.name}`, p.schema]));
        const expected = Object.fromEntries(
          (['path', 'query'] as const).flatMap((at) =>
            Object.entries(requestSide(at === 'path' ? route.params : route.query)?.properties ?? {}).map(
              ([param, schema]) => [`${at} ${param}`, schema],
            ),
          ),
        );
        assert.deepEqual(documented, expected, `${where}: parameters`);
      }
    });
  }

  it('a body the route does without is documented as optional, a required one as required', async () => {
    const [order, dispatcher] = await Promise.all([
      servedDocument(apps[0]![1]()),
      servedDocument(apps[2]![1]()),
    ]);
    const required = (doc: ServedDocument, method: string, path: string) =>
      doc.paths[path]![method]!.requestBody?.required;
    assert.equal(required(order, 'post', '/orders/{id}/cancel'), false);
    assert.equal(required(dispatcher, 'patch', '/dispatch-locations/{vehicle_number}/release'), false);
    assert.equal(required(order, 'post', '/orders'), true);
  });

  it('a timestamp in a response is documented as an ISO date-time', async () => {
    const doc = await servedDocument(apps[1]![1]());
    const product = doc.paths['/products/{id}']!.get!.responses['200']!.content!['application/json']!.schema;
    assert.deepEqual(product.properties?.createdAt, { type: 'string', format: 'date-time' });
  });
});

interface JsonSchema {
  properties?: Record<string, unknown>;
}
interface ServedDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters: { name: string; in: string; schema: unknown }[];
        requestBody?: { required: boolean; content: Record<string, { schema: unknown }> };
        responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
      }
    >
  >;
}

async function servedDocument(app: Express): Promise<ServedDocument> {
  const server = await listen(app);
  try {
    const res = await call<ServedDocument>('GET', `${server.url}/openapi.json`);
    assert.equal(res.status, 200);
    return res.body;
  } finally {
    await server.close();
  }
}

/** What a client sends, as zod itself renders it (without the `$schema` an OpenAPI schema cannot carry). */
function requestSide(schema: z.ZodType | undefined): JsonSchema | undefined {
  if (!schema) return undefined;
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });
  const { $schema: _ignored, ...rest } = JSON.parse(JSON.stringify(json)) as JsonSchema & {
    $schema?: string;
  };
  return rest;
}
