import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Express } from 'express';
import {
  createRuntime,
  documentedRoutes,
  listRoutes,
  type RouteDoc,
  type ServiceRuntime,
} from '@delivery/common';
import { listen } from '@delivery/common/testing';
import { createApp as orderApp } from '../order-service/src/app.js';
import { loadConfig as orderConfig } from '../order-service/src/config.js';
import { orderRouteDocs } from '../order-service/src/orders/orders-api-docs.js';
import { createApp as inventoryApp } from '../inventory-service/src/app.js';
import { loadConfig as inventoryConfig } from '../inventory-service/src/config.js';
import { productRouteDocs } from '../inventory-service/src/products/products-api-docs.js';
import { loadConfig as dispatcherConfig } from '../dispatcher-service/src/config.js';
import { createDispatcher } from '../dispatcher-service/src/dispatcher.js';
import { createRedis } from '../dispatcher-service/src/redis.js';
import { vehicleRouteDocs } from '../dispatcher-service/src/vehicles/vehicle-route-docs.js';

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
        const res = await fetch(`${server.url}/openapi.json`);
        assert.equal(res.status, 200);
        const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
        assert.equal(doc.openapi, '3.0.3');
        for (const route of docs) {
          const path = route.path.replace(/:(\w+)/g, '{$1}');
          assert.ok(doc.paths[path]?.[route.method], `${route.method} ${path} is in the document`);
        }
        const ui = await fetch(`${server.url}/docs`);
        assert.equal(ui.status, 200);
        assert.match(await ui.text(), /swagger-ui-bundle\.js/);
        assert.equal((await fetch(`${server.url}/docs/assets/swagger-ui-bundle.js`)).status, 200);
      } finally {
        await server.close();
      }
    });
  }

  it('a request body in the document carries the same limits the route validates', async () => {
    const server = await listen(apps[0]![1]());
    try {
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
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
      };
      const schema = doc.paths['/orders']!.post!.requestBody.content['application/json']!.schema;
      assert.equal(schema.properties.city?.maxLength, 100);
      assert.equal(schema.properties.items?.maxItems, 100);
      assert.equal(schema.additionalProperties, false, 'unknown fields are refused, and documented so');
    } finally {
      await server.close();
    }
  });
});
