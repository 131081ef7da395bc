import { Agent, request } from 'undici';
import { AppError, currentCorrelationId, internalAuthHeaders, type Logger } from '@delivery/common';

/** The one door to order-service (DESIGN.md §3): explicit timeouts, a few retries, failures as AppError. */
export interface OrdersClient {
  /** PATCH /orders/:id DELIVERED. Resolves when order-service holds the order as DELIVERED. */
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

export function createOrdersClient(options: OrdersClientOptions): OrdersClient {
  const { baseUrl, timeoutMs = 2_000, attempts = 3, backoffMs = 100 } = options;
  const log = options.logger.child({ module: 'orders-client' });
  const agent = new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  async function patchOnce(orderId: number): Promise<void> {
    const correlationId = currentCorrelationId();
    let res;
    try {
      res = await request(`${baseUrl.replace(/\/+$/, '')}/orders/${orderId}`, {
        method: 'PATCH',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          ...internalAuthHeaders(options.internalToken),
          ...(correlationId ? { 'x-request-id': correlationId } : {}),
        },
        body: JSON.stringify({ status: 'DELIVERED' }),
      });
    } catch (err) {
      throw new TransientFailure(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
    const text = await res.body.text().catch(() => '');
    if (res.statusCode === 200) return;
    // Status only moves forward, and DELIVERED is the last one: a refused move to it means
    // the order is DELIVERED already (e.g. a release repeated after a lost answer).
    if (res.statusCode === 409) {
      log.warn(
        { orderId, body: text.slice(0, 500) },
        'order-service refused DELIVERED as a backward move; treating it as delivered',
      );
      return;
    }
    if (res.statusCode >= 500) throw new TransientFailure(`order-service answered ${res.statusCode}`);
    log.error(
      { orderId, status: res.statusCode, body: text.slice(0, 500) },
      'order-service rejected DELIVERED',
    );
    throw new AppError(
      'order_service_rejected',
      `order-service answered ${res.statusCode} for order ${orderId}`,
      502,
    );
  }

  return {
    async markDelivered(orderId) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await patchOnce(orderId);
        } catch (err) {
          if (!(err instanceof TransientFailure)) throw err;
          log.warn({ orderId, attempt, reason: err.message }, 'order-service call failed');
          if (attempt >= attempts) {
            throw new AppError(
              'order_service_unavailable',
              `order-service cannot be reached; order ${orderId} stays dispatched, retry the release`,
              502,
            );
          }
          await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
        }
      }
    },
    close: () => agent.close(),
  };
}
