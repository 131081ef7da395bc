import { Agent, request } from 'undici';
import { z } from 'zod';
import { AppError, coalesce, currentCorrelationId, internalAuthHeaders, type Logger } from '@delivery/common';

/** The one door to order-service (DESIGN.md §3): explicit timeouts, a few retries, failures as AppError. */
export interface OrdersClient {
  /**
   * DELIVERED for the order. Resolves when order-service holds it as DELIVERED; 409
   * order_not_deliverable when order-service refuses the move (the order was cancelled). Calls
   * made while a request is on its way go together in the next one (POST /orders/deliveries).
   */
  markDelivered(orderId: number): Promise<void>;
  close(): Promise<void>;
}

export interface OrdersClientOptions {
  baseUrl: string;
  logger: Logger;
  /** Connect, headers and body timeout of one attempt. */
  timeoutMs?: number;
  attempts?: number;
  backoffMs?: number;
  /** INTERNAL_TOKEN, sent when order-service requires it. */
  internalToken?: string;
}

/** A failure worth another attempt: the peer was unreachable or answered 5xx. */
class TransientFailure extends Error {}

interface Delivery {
  orderId: number;
  correlationId?: string;
}

const deliveriesResponse = z.object({
  results: z.array(
    z.object({
      orderId: z.number(),
      ok: z.boolean(),
      status: z.number().optional(),
      error: z.object({ code: z.string(), message: z.string() }).optional(),
    }),
  ),
});
type DeliveryResult = z.infer<typeof deliveriesResponse>['results'][number];

export function createOrdersClient(options: OrdersClientOptions): OrdersClient {
  const { baseUrl, timeoutMs = 2_000, attempts = 3, backoffMs = 100 } = options;
  const log = options.logger.child({ module: 'orders-client' });
  const agent = new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const url = `${baseUrl.replace(/\/+$/, '')}/orders/deliveries`;

  async function postOnce(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
    // One release: its flow's id on the request too (several: each delivery carries its own).
    const requestId = batch.length === 1 ? batch[0]!.correlationId : undefined;
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          ...internalAuthHeaders(options.internalToken),
          ...(requestId ? { 'x-request-id': requestId } : {}),
        },
        body: JSON.stringify({ deliveries: batch }),
      });
    } catch (err) {
      throw new TransientFailure(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
    const text = await res.body.text().catch(() => '');
    if (res.statusCode >= 500) throw new TransientFailure(`order-service answered ${res.statusCode}`);
    const parsed = res.statusCode === 200 ? deliveriesResponse.safeParse(safeJson(text)) : undefined;
    const answered = parsed?.success ? parsed.data.results : [];
    if (answered.length !== batch.length || answered.some((r, i) => r.orderId !== batch[i]!.orderId)) {
      log.error({ status: res.statusCode, body: text.slice(0, 500) }, 'order-service refused the deliveries');
      throw new AppError('order_service_rejected', `order-service answered ${res.statusCode}`, 502);
    }
    return answered;
  }

  async function post(batch: readonly Delivery[]): Promise<DeliveryResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await postOnce(batch);
      } catch (err) {
        if (!(err instanceof TransientFailure)) throw err;
        const orderIds = batch.map((d) => d.orderId);
        log.warn({ orderIds, attempt, reason: err.message }, 'order-service call failed');
        if (attempt >= attempts) {
          throw new AppError(
            'order_service_unavailable',
            `order-service cannot be reached; order${orderIds.length > 1 ? 's' : ''} ${orderIds.join(', ')} stay dispatched, retry the release`,
            502,
          );
        }
        await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
      }
    }
  }

  // A failed request failed for all its deliveries alike: nothing to gain by sending them alone.
  const deliver = coalesce(post, { maxBatch: 500, concurrency: 2, retryAlone: () => false });

  return {
    async markDelivered(orderId) {
      const correlationId = currentCorrelationId();
      const result = await deliver(correlationId ? { orderId, correlationId } : { orderId });
      if (result.ok) return;
      // DELIVERED already is ok; a refusal means the order cannot be delivered: it was cancelled
      // first (both are final, the first to commit wins). Its order.cancelled frees the vehicle.
      if (result.status === 409) {
        throw new AppError(
          'order_not_deliverable',
          result.error?.message ?? `order ${orderId} cannot be delivered`,
          409,
        );
      }
      log.error({ orderId, status: result.status, error: result.error }, 'order-service rejected DELIVERED');
      throw new AppError(
        'order_service_rejected',
        `order-service answered ${result.status ?? 'no status'} for order ${orderId}`,
        502,
      );
    },
    close: () => agent.close(),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
