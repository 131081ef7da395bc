import { internalTokenRefused, type RouteDoc } from '@delivery/common';
import {
  cityParams,
  listVehiclesQuery,
  registerVehicleBody,
  registeredVehicle,
  releaseBody,
  releaseInCityParams,
  releaseParams,
  releasedVehicle,
  vehicleAssignment,
  vehicleListing,
} from './vehicle-schemas.js';

const tags = ['dispatch-locations'];

const releaseResponses = {
  200: {
    description: 'order DELIVERED, vehicle free (and given to the oldest waiting order of its city)',
    schema: releasedVehicle,
  },
  400: { description: 'malformed vehicle number or city' },
  401: internalTokenRefused,
  404: { description: 'vehicle_not_found: unknown vehicle, or not in that city' },
  409: {
    description:
      'vehicle_not_allocated: the vehicle carried no order when the request arrived; assignment_changed: ' +
      'it does not carry the order named by {"orderId"} or If-Match; order_not_deliverable: the order ' +
      'was cancelled first; request_in_progress: the first request with this Idempotency-Key is still running',
  },
  422: { description: 'idempotency_key_reused: the Idempotency-Key was used for another release' },
  502: { description: 'order-service unreachable or refusing: nothing changed, repeat the request' },
};

/** What only the routes know (path, statuses, prose); the schemas are vehicle-schemas.ts's, generated. */
export const vehicleRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/dispatch-locations',
    summary: 'Register a vehicle in a city',
    tags,
    body: registerVehicleBody,
    responses: {
      201: { description: 'registered', schema: registeredVehicle },
      400: { description: 'validation_failed' },
      409: { description: 'vehicle_exists (case-insensitive)' },
    },
  },
  {
    method: 'get',
    path: '/dispatch-locations/:city',
    summary: "A city's vehicles in registration order (city matched case-insensitively, trimmed)",
    tags,
    params: cityParams,
    query: listVehiclesQuery,
    responses: {
      200: { description: 'vehicles', schema: vehicleListing },
      400: { description: 'validation_failed' },
    },
  },
  {
    method: 'patch',
    path: '/dispatch-locations/:vehicle_number/release',
    summary:
      "Deliver the vehicle's order and free the vehicle. Safe to repeat with an Idempotency-Key header " +
      '(the first answer again) and/or the order being delivered ({"orderId"} or If-Match: "order-N")',
    tags,
    params: releaseParams,
    body: releaseBody,
    responses: releaseResponses,
  },
  {
    method: 'patch',
    path: '/dispatch-locations/:vehicle_number/:city/release',
    summary: 'The same, checking the city too (the form of the assignment example)',
    tags,
    params: releaseInCityParams,
    body: releaseBody,
    responses: releaseResponses,
  },
  {
    method: 'get',
    path: '/dispatch-locations/:vehicle_number/assignment',
    summary: 'The order a vehicle carries now; its ETag ("order-N") makes a release conditional (If-Match)',
    tags,
    params: releaseParams,
    responses: {
      200: { description: 'the current assignment', schema: vehicleAssignment },
      400: { description: 'malformed vehicle number' },
      404: { description: 'vehicle_not_found, or no_assignment: the vehicle carries no order' },
    },
  },
];
