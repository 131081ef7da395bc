import type { Express } from 'express';
import { requireInternalToken } from '@delivery/common';
import { changeOrderStatus, deliverOrders } from './change-order-status.js';
import { findOrders, getOrder } from './order-queries.js';
import {
  cancelBody,
  changeStatusBody,
  deliveriesBody,
  listOrdersQuery,
  orderIdParam,
  placeOrderBody,
} from './order-schemas.js';
import type { OrdersDeps } from './orders-deps.js';
import { orderPlacer } from './place-order.js';

export function registerOrderRoutes(app: Express, deps: OrdersDeps, internalToken?: string): void {
  const scoped = { ...deps, logger: deps.logger.child({ module: 'orders' }) };
  const placeOrder = orderPlacer(scoped);

  app.post('/orders', async (req, res) => {
    const input = placeOrderBody.parse(req.body);
    const order = await placeOrder(input);
    res.status(201).location(`/orders/${order.id}`).json(order);
  });

  app.get('/orders', async (req, res) => {
    res.json(await findOrders(scoped, listOrdersQuery.parse(req.query)));
  });

  app.get('/orders/:id', async (req, res) => {
    const { id } = orderIdParam.parse(req.params);
    res.json(await getOrder(scoped, id));
  });

  // A status set by hand (DELIVERED, CANCELLED): service-to-service when INTERNAL_TOKEN is set.
  app.patch('/orders/:id', requireInternalToken(internalToken), async (req, res) => {
    const { id } = orderIdParam.parse(req.params);
    res.json(await changeOrderStatus(scoped, id, changeStatusBody.parse(req.body)));
  });

  // The customer's way to cancel (the same move as PATCH with CANCELLED).
  app.post('/orders/:id/cancel', async (req, res) => {
    const { id } = orderIdParam.parse(req.params);
    const { reason } = cancelBody.parse(req.body) ?? {};
    res.json(await changeOrderStatus(scoped, id, { status: 'CANCELLED', reason }));
  });

  // The same for the several releases the dispatcher has in hand: one request, one result each.
  app.post('/orders/deliveries', requireInternalToken(internalToken), async (req, res) => {
    const { deliveries } = deliveriesBody.parse(req.body);
    res.json({ results: await deliverOrders(scoped, deliveries) });
  });
}
