import { z } from 'zod';
import { cityName, errorJson, idParam, nameText, positiveId } from '@delivery/common';
import { hasAtMostTwoDecimals, numberToCents } from './money.js';
import { ORDER_STATUSES } from './order-status.js';

/**
 * Request schemas of the orders API, and the response shapes its document describes. Unknown
 * fields are refused (strict objects) rather than dropped: a misspelt field ("quantitiy") silently
 * ignored would place a different order than the one the client meant.
 */
const MAX_PRICE = 1_000_000;
/** DECIMAL(12,2) holds at most 9 999 999 999.99. */
const MAX_TOTAL_CENTS = 999_999_999_999;

const id = positiveId;

const price = z
  .number()
  .min(0)
  .max(MAX_PRICE)
  .refine(hasAtMostTwoDecimals, 'must have at most 2 decimals')
  // A refinement is invisible to JSON Schema; `multipleOf: 0.01` would fail 49.99 in float arithmetic.
  .meta({ description: 'at most 2 decimals' });

export const orderItemBody = z.strictObject({
  productId: id,
  price,
  quantity: z.number().int().min(1).max(1000),
});

export const placeOrderBody = z
  .strictObject({
    customerId: id,
    city: cityName,
    items: z.array(orderItemBody).min(1).max(100),
  })
  .refine((order) => totalCents(order.items) <= MAX_TOTAL_CENTS, {
    path: ['items'],
    message: 'the order total exceeds 9999999999.99',
    // By default zod runs this even after an item failed (-1 is not a price): only sum valid items.
    when: (payload) => payload.issues.length === 0,
  });

export type PlaceOrderInput = z.infer<typeof placeOrderBody>;
export type OrderItemInput = z.infer<typeof orderItemBody>;

export function totalCents(items: OrderItemInput[]): number {
  return items.reduce((sum, item) => sum + numberToCents(item.price) * item.quantity, 0);
}

export const orderIdParam = idParam;

export const listOrdersQuery = z.strictObject({
  status: z.enum(ORDER_STATUSES).optional(),
  city: cityName.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export type ListOrdersQuery = z.infer<typeof listOrdersQuery>;

/** Why a customer cancels: short text, stored with the order and sent with order.cancelled. */
const cancellationReason = nameText(500);

export const changeStatusBody = z
  .strictObject({ status: z.enum(ORDER_STATUSES), reason: cancellationReason.optional() })
  .refine((body) => body.reason === undefined || body.status === 'CANCELLED', {
    path: ['reason'],
    message: 'a reason goes only with status CANCELLED',
  });
export type ChangeStatusInput = z.infer<typeof changeStatusBody>;

/** POST /orders/:id/cancel: the body may be absent, or name a reason. */
export const cancelBody = z.strictObject({ reason: cancellationReason.optional() }).optional();

/** At most this many orders per POST /orders/deliveries: one statement's IN list, one response. */
export const MAX_DELIVERIES = 500;

export const deliveriesBody = z.strictObject({
  deliveries: z
    .array(
      z.strictObject({
        orderId: id,
        /** The flow of the release that delivers it: its log line carries this id. */
        correlationId: z.string().min(1).max(128).optional(),
      }),
    )
    .min(1)
    .max(MAX_DELIVERIES),
});
export type DeliveriesInput = z.infer<typeof deliveriesBody>['deliveries'];

/** The order JSON every route answers with (DESIGN.md §3): for the API document, never parsed. */
export const orderResponse = z.object({
  id,
  orderNumber: z.string().meta({ example: 'ORD-000123' }),
  customerId: id,
  city: cityName,
  status: z.enum(ORDER_STATUSES),
  items: z.array(orderItemBody),
  totalAmount: z.number(),
  vehicleNumber: z.string().nullable(),
  rejectionReason: z.string().nullable(),
  cancellationReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

/** POST /orders/deliveries: one result per delivery, in request order; a refusal is PATCH's. */
export const deliveriesResponse = z.object({
  results: z.array(
    z.discriminatedUnion('ok', [
      z.object({ orderId: id, ok: z.literal(true) }),
      z.object({
        orderId: id,
        ok: z.literal(false),
        status: z.number().int().meta({ description: '404 or 409, as PATCH /orders/:id would answer' }),
        error: errorJson,
      }),
    ]),
  ),
});
