import { z } from 'zod';
import { internalTokenRefused, type RouteDoc } from '@delivery/common';
import {
  cancelBody,
  changeStatusBody,
  deliveriesBody,
  deliveriesResponse,
  listOrdersQuery,
  orderIdParam,
  orderResponse,
  placeOrderBody,
} from './order-schemas.js';

const tags = ['orders'];

/** What only the routes know (path, statuses, prose); the schemas are order-schemas.ts's, generated. */
export const orderRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/orders',
    summary: 'Place an order; it starts PENDING and is confirmed or rejected by inventory',
    tags,
    body: placeOrderBody,
    responses: {
      201: { description: 'the order, PENDING', schema: orderResponse },
      400: { description: 'validation_failed or malformed_json, with details; nothing written' },
      415: { description: 'the body is not JSON' },
    },
  },
  {
    method: 'get',
    path: '/orders',
    summary: 'List orders, newest first',
    tags,
    query: listOrdersQuery,
    responses: {
      200: { description: 'orders', schema: z.array(orderResponse) },
      400: { description: 'bad query' },
    },
  },
  {
    method: 'get',
    path: '/orders/:id',
    summary: 'One order',
    tags,
    params: orderIdParam,
    responses: {
      200: { description: 'the order', schema: orderResponse },
      400: { description: 'the id is not a positive integer' },
      404: { description: 'no such order' },
    },
  },
  {
    method: 'patch',
    path: '/orders/:id',
    summary:
      'Set DELIVERED or CANCELLED (with an optional reason) by hand; the current status is a no-op. ' +
      'Emits order.delivered or order.cancelled',
    tags,
    params: orderIdParam,
    body: changeStatusBody,
    responses: {
      200: { description: 'the order', schema: orderResponse },
      400: { description: 'unknown status, or a reason with a status other than CANCELLED' },
      401: internalTokenRefused,
      404: { description: 'no such order' },
      409: {
        description:
          'invalid_transition: the order would move backwards, or is final (DELIVERED, REJECTED, CANCELLED)',
      },
    },
  },
  {
    method: 'post',
    path: '/orders/:id/cancel',
    summary:
      "Cancel an order (the customer's way): from PENDING, CONFIRMED or DISPATCHED; its stock goes back " +
      'and its vehicle is freed. A repeat is a 200 no-op',
    tags,
    params: orderIdParam,
    body: cancelBody,
    responses: {
      200: { description: 'the order, CANCELLED', schema: orderResponse },
      400: { description: 'validation_failed: the reason is blank, too long or has control characters' },
      404: { description: 'no such order' },
      409: { description: 'invalid_transition: the order is DELIVERED or REJECTED' },
    },
  },
  {
    method: 'post',
    path: '/orders/deliveries',
    summary:
      'DELIVERED for several orders at once (the dispatcher, for the releases it has in hand); per order, what PATCH would answer',
    tags,
    body: deliveriesBody,
    responses: {
      200: { description: 'one result per delivery, in request order', schema: deliveriesResponse },
      400: { description: 'validation_failed: 1 to 500 deliveries of positive order ids' },
      401: internalTokenRefused,
    },
  },
];
