import { createHash } from 'node:crypto';
import type { Express, Request, RequestHandler } from 'express';
import { cityKey, requireInternalToken, type Db } from '@delivery/common';
import { vehicleKey } from '../keys.js';
import type { OrdersClient } from '../orders-client/orders-client.js';
import {
  assignmentTag,
  idempotencyKeyOf,
  ordersInIfMatch,
  releaseBody,
  releaseInCityParams,
  releaseParams,
} from '../vehicles/vehicle-schemas.js';
import type { DispatchDeps } from './dispatch-deps.js';
import { idempotentRequests, replay } from './release-requests.js';
import { currentAssignment, vehicleReleaser, type ReleaseRequest } from './release-vehicle.js';

export interface ReleaseRouteDeps {
  db: Db;
  dispatch: DispatchDeps;
  orders: OrdersClient;
  internalToken?: string;
}

/** A vehicle's current assignment and its release (PATCH …/release, with or without the city). */
export function releaseRoutes(app: Express, { db, dispatch, orders, internalToken }: ReleaseRouteDeps): void {
  // Both forms: the design's, and the one in the assignment's curl example (city checked too).
  const releaseVehicle = vehicleReleaser({ ...dispatch, orders });
  const once = idempotentRequests(db);
  const release = (params: typeof releaseParams | typeof releaseInCityParams): RequestHandler => {
    return async (req, res) => {
      const request = releaseRequest(req, params);
      const key = idempotencyKeyOf(req.get('idempotency-key'));
      if (key === undefined) return void res.json(await releaseVehicle(request));
      const { answer, replayed } = await once(key, fingerprint(request), () => releaseVehicle(request));
      if (replayed) res.setHeader('idempotent-replayed', 'true');
      res.status(answer.status).json(replay(answer));
    };
  };
  app.get('/dispatch-locations/:vehicle_number/assignment', async (req, res) => {
    const { vehicle_number } = releaseParams.parse(req.params);
    const carried = await currentAssignment(db, vehicle_number);
    res.setHeader('etag', assignmentTag(carried.orderId)).json(carried);
  });

  // A release delivers an order: service-to-service when INTERNAL_TOKEN is set.
  const internal = requireInternalToken(internalToken);
  app.patch('/dispatch-locations/:vehicle_number/release', internal, release(releaseParams));
  app.patch('/dispatch-locations/:vehicle_number/:city/release', internal, release(releaseInCityParams));
}

function releaseRequest(
  req: Request,
  params: typeof releaseParams | typeof releaseInCityParams,
): ReleaseRequest {
  // Taken first: the request ends only an assignment that existed when it arrived.
  const arrivedAt = new Date();
  const named = releaseBody.parse(req.body)?.orderId;
  const tagged = ordersInIfMatch(req.get('if-match'));
  const expectedOrders = named === undefined ? tagged : new Set(!tagged || tagged.has(named) ? [named] : []);
  return { ...params.parse(req.params), expectedOrders, arrivedAt };
}

/** What makes two releases the same request: a key reused for another one is refused. */
function fingerprint({ vehicle_number, city, expectedOrders }: ReleaseRequest): string {
  const what = [
    vehicleKey(vehicle_number),
    city === undefined ? '' : cityKey(city),
    [...(expectedOrders ?? [])].sort(),
  ];
  return createHash('sha256').update(JSON.stringify(what)).digest('hex');
}
