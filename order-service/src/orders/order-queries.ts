import { AppError } from '@delivery/common';
import type { ListOrdersQuery } from './order-schemas.js';
import type { OrdersDeps } from './orders-deps.js';
import { findOrderById, listOrders, type Order } from './orders-repository.js';

export async function getOrder({ db }: OrdersDeps, id: number): Promise<Order> {
  const order = await findOrderById(db, id);
  if (!order) throw new AppError('order_not_found', `Order ${id} not found`, 404);
  return order;
}

export function findOrders({ db }: OrdersDeps, query: ListOrdersQuery): Promise<Order[]> {
  return listOrders(db, query);
}
