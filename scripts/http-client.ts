/** A small JSON-over-HTTP helper for the seed, demo and bench scripts (they talk to `make up`). */
export const URLS = {
  order: process.env.ORDER_SERVICE_URL ?? 'http://127.0.0.1:3001',
  inventory: process.env.INVENTORY_SERVICE_URL ?? 'http://127.0.0.1:3002',
  dispatcher: process.env.DISPATCHER_SERVICE_URL ?? 'http://127.0.0.1:3003',
};

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
}

export async function call<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}
