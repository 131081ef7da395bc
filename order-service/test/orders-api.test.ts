import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  call,
  countRows,
  envelope,
  listen,
  type ErrorBody,
  type TestRuntime,
} from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { applyInventoryResults } from '../src/orders/apply-inventory-result.js';
import { recordDispatches } from '../src/orders/record-dispatch.js';
import { createOrderRuntime, dispatched, inventoryUpdated, type OrderJson } from './support.js';

const buildOrder = (overrides: Record<string, unknown> = {}) => ({
  customerId: 1,
  city: 'Colombo',
  items: [{ productId: 101, price: 49.99, quantity: 2 }],
  ...overrides,
});
const buildItem = (overrides: Record<string, unknown> = {}) => ({
  productId: 101,
  price: 49.99,
  quantity: 2,
  ...overrides,
});

describe('order-service HTTP API', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;
  const api = <T = OrderJson>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => call<T>(method, `${server.url}${path}`, body, headers);
  const counts = () => countRows(rt.db, ['orders', 'order_items', 'outbox']);

  before(async () => {
    rt = await createOrderRuntime();
    server = await listen(createApp(rt));
  });
  after(async () => {
    await server?.close();
    await rt?.close();
  });

  /** Moves a placed order on the way the consumer would, through the same domain function. */
  async function confirm(order: OrderJson) {
    await applyInventoryResults(rt, [
      envelope('order.inventory.updated', {
        orderId: order.id,
        orderNumber: order.orderNumber,
        status: 'RESERVED',
      }),
    ]);
  }

  describe('POST /orders', () => {
    it('a valid order is 201 PENDING with its number, trimmed city, money as numbers, and order.created in the outbox', async () => {
      const res = await api(
        'POST',
        '/orders',
        buildOrder({
          city: '  Colombo ',
          items: [buildItem(), buildItem({ productId: 102, price: 0.1, quantity: 3 })],
        }),
      );
      assert.equal(res.status, 201);
      const order = res.body;
      assert.match(order.orderNumber, /^ORD-\d{6,}$/);
      assert.equal(order.orderNumber, `ORD-${String(order.id).padStart(6, '0')}`);
      const { id: _id, orderNumber: _number, createdAt, updatedAt, ...rest } = order;
      assert.deepEqual(rest, {
        customerId: 1,
        city: 'Colombo',
        status: 'PENDING',
        items: [
          { productId: 101, price: 49.99, quantity: 2 },
          { productId: 102, price: 0.1, quantity: 3 },
        ],
        totalAmount: 100.28,
        vehicleNumber: null,
        rejectionReason: null,
        cancellationReason: null,
      });
      assert.ok(!Number.isNaN(Date.parse(createdAt)) && !Number.isNaN(Date.parse(updatedAt)));
      const fetched = await api('GET', `/orders/${order.id}`);
      assert.deepEqual(fetched.body, order);

      const rows = await rt.db('outbox').where({ message_key: String(order.id) });
      assert.equal(rows.length, 1);
      const event = JSON.parse(rows[0].payload as string);
      assert.equal(event.type, 'order.created');
      assert.equal(rows[0].topic, 'order.created');
      assert.equal(rows[0].published_at, null);
      assert.deepEqual(event.data, {
        orderId: order.id,
        orderNumber: order.orderNumber,
        customerId: 1,
        city: 'Colombo',
        items: [
          { productId: 101, price: '49.99', quantity: 2 },
          { productId: 102, price: '0.10', quantity: 3 },
        ],
        totalAmount: '100.28',
      });
    });

    it('totals are summed in cents: 3 × 1.10 is exactly 3.30, and order numbers are distinct', async () => {
      const a = await api('POST', '/orders', buildOrder({ items: [buildItem({ price: 1.1, quantity: 3 })] }));
      const b = await api(
        'POST',
        '/orders',
        buildOrder({ items: [buildItem({ price: 0.07, quantity: 1000 })] }),
      );
      assert.equal(a.body.totalAmount, 3.3);
      assert.equal(b.body.totalAmount, 70);
      // 0.29 * 100 is 28.999999999999996 in floating point; cents come from the decimal form instead.
      const c = await api(
        'POST',
        '/orders',
        buildOrder({ items: [buildItem({ price: 0.29, quantity: 3 })] }),
      );
      assert.equal(c.status, 201);
      assert.equal(c.body.totalAmount, 0.87);
      assert.notEqual(a.body.orderNumber, b.body.orderNumber);
      const [row] = await rt.db('orders').where({ id: a.body.id }).select('total_amount');
      assert.equal(row.total_amount, '3.30');
    });

    it('the largest allowed order is accepted: 100 items, a 100-character city, quantity 1000, price 0', async () => {
      const items = Array.from({ length: 100 }, (_, i) =>
        buildItem({ productId: i + 1, price: i === 0 ? 0 : 9.99, quantity: 1000 }),
      );
      const res = await api('POST', '/orders', buildOrder({ city: 'c'.repeat(100), items }));
      assert.equal(res.status, 201);
      assert.equal(res.body.items.length, 100);
      assert.equal(res.body.totalAmount, 989010);
    });

    it('a city of 100 emoji (200 UTF-16 units, 100 characters) is accepted and stored as sent', async () => {
      const city = '\u{1F30D}'.repeat(100);
      const res = await api('POST', '/orders', buildOrder({ city }));
      assert.equal(res.status, 201);
      assert.equal(res.body.city, city);
      assert.equal((await api('GET', `/orders/${res.body.id}`)).body.city, city);
    });

    it('a city sent with a combining accent is stored in NFC, as one character per letter', async () => {
      const res = await api('POST', '/orders', buildOrder({ city: 'Ko\u0304be' }));
      assert.equal(res.status, 201);
      assert.equal(res.body.city, 'K\u014Dbe');
    });

    it('a city over 100 characters once case-folded is refused with a message that says so', async () => {
      const res = await api<ErrorBody>('POST', '/orders', buildOrder({ city: 'İ'.repeat(60) }));
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'validation_failed');
      assert.match(res.body.error.details?.[0]?.message ?? '', /at most 100 characters once case-folded/);
    });

    const longCity = 'c'.repeat(101);
    const invalid: [string, unknown, string][] = [
      ['city missing', { customerId: 1, items: [buildItem()] }, 'city'],
      ['city empty', buildOrder({ city: '' }), 'city'],
      ['city all spaces', buildOrder({ city: '    ' }), 'city'],
      ['city of 101 characters', buildOrder({ city: longCity }), 'city'],
      [
        'city that is over 100 characters once case-folded ("İ" × 60)',
        buildOrder({ city: 'İ'.repeat(60) }),
        'city',
      ],
      ['city with a control character', buildOrder({ city: 'Colombo\u0007' }), 'city'],
      ['no items', buildOrder({ items: [] }), 'items'],
      ['101 items', buildOrder({ items: Array.from({ length: 101 }, () => buildItem()) }), 'items'],
      ['quantity 0', buildOrder({ items: [buildItem({ quantity: 0 })] }), 'items.0.quantity'],
      ['quantity -1', buildOrder({ items: [buildItem({ quantity: -1 })] }), 'items.0.quantity'],
      ['quantity 1.5', buildOrder({ items: [buildItem({ quantity: 1.5 })] }), 'items.0.quantity'],
      ['quantity "2"', buildOrder({ items: [buildItem({ quantity: '2' })] }), 'items.0.quantity'],
      ['quantity 1001', buildOrder({ items: [buildItem({ quantity: 1001 })] }), 'items.0.quantity'],
      ['price -1', buildOrder({ items: [buildItem({ price: -1 })] }), 'items.0.price'],
      ['price 1.234', buildOrder({ items: [buildItem({ price: 1.234 })] }), 'items.0.price'],
      ['price "49.99"', buildOrder({ items: [buildItem({ price: '49.99' })] }), 'items.0.price'],
      ['price over 1 000 000', buildOrder({ items: [buildItem({ price: 1_000_000.01 })] }), 'items.0.price'],
      ['productId 0', buildOrder({ items: [buildItem({ productId: 0 })] }), 'items.0.productId'],
      ['customerId "abc"', buildOrder({ customerId: 'abc' }), 'customerId'],
      ['an unknown field', buildOrder({ note: 'leave at door' }), 'note'],
      ['an unknown item field', buildOrder({ items: [buildItem({ colour: 'red' })] }), 'items.0.colour'],
      [
        'a total over 9 999 999 999.99',
        buildOrder({
          items: Array.from({ length: 100 }, () => buildItem({ price: 1_000_000, quantity: 1000 })),
        }),
        'items',
      ],
      ['a JSON array body', [buildOrder()], '(body)'],
      ['a JSON string body', '"an order"', '(body)'],
    ];
    for (const [name, body, field] of invalid) {
      it(`${name}: 400 validation_failed naming ${field}, nothing written`, async () => {
        const before = await counts();
        const res = await api<ErrorBody>('POST', '/orders', body);
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'validation_failed');
        assert.ok(
          res.body.error.details?.some((d) => d.path === field),
          `details name ${field}: ${JSON.stringify(res.body.error.details)}`,
        );
        assert.deepEqual(await counts(), before);
      });
    }

    it('a body that is not JSON: 415 for text/plain, 400 malformed_json for broken JSON, 400 for no body; nothing written', async () => {
      const before = await counts();
      const empty = await api<ErrorBody>('POST', '/orders');
      const plain = await api<ErrorBody>('POST', '/orders', 'customerId=1', { 'content-type': 'text/plain' });
      assert.equal(plain.status, 415);
      assert.equal(plain.body.error.code, 'unsupported_media_type');
      const broken = await api<ErrorBody>('POST', '/orders', '{"customerId": 1,');
      assert.equal(broken.status, 400);
      assert.equal(broken.body.error.code, 'malformed_json');
      assert.equal(empty.status, 400, 'no body at all');
      assert.equal(empty.body.error.code, 'validation_failed');
      assert.deepEqual(await counts(), before);
    });
  });

  describe('GET /orders', () => {
    it('unknown id is 404 order_not_found; a non-numeric id is 400', async () => {
      const missing = await api<ErrorBody>('GET', '/orders/999999999');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'order_not_found');
      for (const id of ['abc', '1.5', '-1', '0']) {
        const bad = await api<ErrorBody>('GET', `/orders/${id}`);
        assert.equal(bad.status, 400, `id ${id}`);
        assert.equal(bad.body.error.details?.[0]?.path, 'id');
      }
    });

    it('lists newest first, filters by status and by city case-insensitively and trimmed, and honours limit', async () => {
      const city = `Kandy-${Date.now()}`;
      const first = (await api('POST', '/orders', buildOrder({ city }))).body;
      const second = (await api('POST', '/orders', buildOrder({ city: city.toUpperCase() }))).body;
      const third = (await api('POST', '/orders', buildOrder({ city }))).body;
      await confirm(second);

      const byCity = await api<OrderJson[]>(
        'GET',
        `/orders?city=${encodeURIComponent(`  ${city.toLowerCase()} `)}`,
      );
      assert.equal(byCity.status, 200);
      assert.deepEqual(
        byCity.body.map((o) => o.id),
        [third.id, second.id, first.id],
      );
      assert.equal(byCity.body[2]?.items.length, 1, 'items are included');
      const confirmed = await api<OrderJson[]>('GET', `/orders?status=CONFIRMED&city=${city}`);
      assert.deepEqual(
        confirmed.body.map((o) => o.id),
        [second.id],
      );
      const limited = await api<OrderJson[]>('GET', `/orders?city=${city}&limit=2`);
      assert.deepEqual(
        limited.body.map((o) => o.id),
        [third.id, second.id],
      );
      const all = await api<OrderJson[]>('GET', '/orders');
      assert.ok(all.body.length >= 3 && all.body.length <= 50);
      assert.ok(
        all.body.every((o, i, list) => i === 0 || list[i - 1]!.id > o.id),
        'newest first',
      );
    });

    it('the city filter matches one city identity: "colombo " = "Colombo", "KOBE" = "kobe", "Kobe" ≠ "Kōbe"', async () => {
      const tag = Date.now().toString(36);
      const plain = (await api('POST', '/orders', buildOrder({ city: `Kobe ${tag}` }))).body;
      const accented = (await api('POST', '/orders', buildOrder({ city: `K\u014Dbe ${tag}` }))).body;
      const colombo = (await api('POST', '/orders', buildOrder({ city: `Colombo  ${tag}` }))).body;
      const ids = async (city: string) =>
        (await api<OrderJson[]>('GET', `/orders?city=${encodeURIComponent(city)}`)).body.map((o) => o.id);

      assert.deepEqual(await ids(`Kobe ${tag}`), [plain.id]);
      assert.deepEqual(await ids(`KOBE ${tag.toUpperCase()}`), [plain.id]);
      assert.deepEqual(await ids(`K\u014Dbe ${tag}`), [accented.id]);
      assert.deepEqual(await ids(`Ko\u0304be ${tag}`), [accented.id], 'a combining accent is the same city');
      assert.deepEqual(await ids(`colombo ${tag} `), [colombo.id]);
    });

    it('a city filter over 100 characters once case-folded is 400 validation_failed', async () => {
      const res = await api<ErrorBody>('GET', `/orders?city=${encodeURIComponent('İ'.repeat(60))}`);
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'validation_failed');
      assert.equal(res.body.error.details?.[0]?.path, 'city');
    });

    for (const query of [
      'status=SHIPPED',
      'limit=0',
      'limit=501',
      'limit=abc',
      'limit=1.5',
      'city=',
      'sort=id',
    ]) {
      it(`a bad query (${query}) is 400 validation_failed`, async () => {
        const res = await api<ErrorBody>('GET', `/orders?${query}`);
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'validation_failed');
      });
    }
  });

  describe('PATCH /orders/:id', () => {
    async function placeConfirmed() {
      const order = (await api('POST', '/orders', buildOrder())).body;
      await confirm(order);
      return order;
    }

    it('the current status is a 200 no-op that changes nothing', async () => {
      const order = (await api('POST', '/orders', buildOrder())).body;
      const res = await api('PATCH', `/orders/${order.id}`, { status: 'PENDING' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, order);
    });

    it('CONFIRMED → DELIVERED is 200, and DELIVERED again is a no-op', async () => {
      const order = await placeConfirmed();
      const res = await api('PATCH', `/orders/${order.id}`, { status: 'DELIVERED' });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'DELIVERED');
      assert.equal((await api('GET', `/orders/${order.id}`)).body.status, 'DELIVERED');
      const again = await api('PATCH', `/orders/${order.id}`, { status: 'DELIVERED' });
      assert.equal(again.status, 200);
      assert.equal(again.body.updatedAt, res.body.updatedAt);
    });

    it('a backward move (DELIVERED → CONFIRMED) is 409 invalid_transition and changes nothing', async () => {
      const order = await placeConfirmed();
      await api('PATCH', `/orders/${order.id}`, { status: 'DELIVERED' });
      const res = await api<ErrorBody>('PATCH', `/orders/${order.id}`, { status: 'CONFIRMED' });
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, 'invalid_transition');
      assert.equal((await api('GET', `/orders/${order.id}`)).body.status, 'DELIVERED');
    });

    it('moves the lifecycle does not allow (PENDING → DELIVERED, PENDING → CONFIRMED by hand) are 409', async () => {
      const order = (await api('POST', '/orders', buildOrder())).body;
      for (const status of ['DELIVERED', 'CONFIRMED', 'DISPATCHED', 'REJECTED']) {
        const res = await api<ErrorBody>('PATCH', `/orders/${order.id}`, { status });
        assert.equal(res.status, 409, status);
        assert.equal(res.body.error.code, 'invalid_transition');
      }
      assert.equal((await api('GET', `/orders/${order.id}`)).body.status, 'PENDING');
    });

    it('an unknown status, a missing status or an extra field is 400', async () => {
      const order = (await api('POST', '/orders', buildOrder())).body;
      for (const body of [
        { status: 'SHIPPED' },
        { status: 'delivered' },
        {},
        { status: 'DELIVERED', vehicle: 'x' },
      ]) {
        const res = await api<ErrorBody>('PATCH', `/orders/${order.id}`, body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error.code, 'validation_failed');
      }
    });

    it('an unknown id is 404 and a non-numeric id is 400', async () => {
      const missing = await api<ErrorBody>('PATCH', '/orders/999999999', { status: 'DELIVERED' });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'order_not_found');
      const bad = await api<ErrorBody>('PATCH', '/orders/abc', { status: 'DELIVERED' });
      assert.equal(bad.status, 400);
    });
  });

  describe('POST /orders/deliveries', () => {
    it('delivers every order that may be delivered in one transaction of three statements, with an order.delivered each; the others get what PATCH answers', async () => {
      const placed = await Promise.all(Array.from({ length: 7 }, () => api('POST', '/orders', buildOrder())));
      const [confirmed, dispatchedOne, done, pending, rejected, second, third] = placed.map((r) => r.body);
      await applyInventoryResults(rt, [
        ...[confirmed!, dispatchedOne!, done!, second!, third!].map((o) => inventoryUpdated(o, 'RESERVED')),
        inventoryUpdated(rejected!, 'REJECTED', 'Insufficient stock'),
      ]);
      await recordDispatches(rt, [dispatched(dispatchedOne!, 'CAB-1')]);
      assert.equal((await api('PATCH', `/orders/${done!.id}`, { status: 'DELIVERED' })).status, 200);
      const doneBefore = (await api('GET', `/orders/${done!.id}`)).body;

      // Everything deliverable: one locking read, one UPDATE and one outbox INSERT, however many orders.
      const statements: string[] = [];
      const count = (q: { sql: string }) => statements.push(q.sql);
      rt.db.on('query', count);
      const easy = await api<{ results: unknown[] }>('POST', '/orders/deliveries', {
        deliveries: [
          { orderId: confirmed!.id, correlationId: 'req-deliver-a' },
          { orderId: dispatchedOne!.id, correlationId: 'req-deliver-b' },
          { orderId: done!.id },
          { orderId: second!.id },
          { orderId: third!.id },
        ],
      });
      rt.db.off('query', count);
      assert.equal(easy.status, 200);
      const work = statements.filter((sql) => !/^(BEGIN|COMMIT)/i.test(sql.trim()));
      assert.deepEqual(
        work.map((sql) => sql.trim().split(/\s+/).slice(0, 2).join(' ')),
        ['SELECT o.*', 'UPDATE orders', 'INSERT INTO'],
        statements.join('\n'),
      );
      const ours = [done, confirmed, dispatchedOne, second, third].map((o) => String(o!.id));
      const events = (
        await rt.db('outbox').where({ topic: 'order.delivered' }).whereIn('message_key', ours)
      ).map(
        (row: { payload: string }) =>
          JSON.parse(row.payload) as { correlationId: string; data: { orderId: number } },
      );
      assert.deepEqual(
        events.map((e) => e.data.orderId).sort((x, y) => x - y),
        [done, confirmed, dispatchedOne, second, third].map((o) => o!.id).sort((x, y) => x - y),
        'one order.delivered per order moved (done: by its PATCH)',
      );
      assert.equal(events.find((e) => e.data.orderId === confirmed!.id)!.correlationId, 'req-deliver-a');
      assert.deepEqual(
        easy.body.results,
        [confirmed, dispatchedOne, done, second, third].map((o) => ({ orderId: o!.id, ok: true })),
      );

      const missing = 999_999_999;
      const mixed = await api<{ results: unknown }>('POST', '/orders/deliveries', {
        deliveries: [pending, rejected, done, { id: missing }, pending].map((o) => ({ orderId: o!.id })),
      });
      assert.equal(mixed.status, 200);
      type Result = {
        orderId: number;
        ok: boolean;
        status?: number;
        error?: { code: string; message: string };
      };
      const results = mixed.body.results as Result[];
      assert.ok(
        results.every((r) => r.ok || r.error!.message.length > 0),
        'each refusal says why',
      );
      assert.deepEqual(
        results.map((r) => [r.orderId, r.ok, r.status, r.error?.code]),
        [
          [pending!.id, false, 409, 'invalid_transition'],
          [rejected!.id, false, 409, 'invalid_transition'],
          [done!.id, true, undefined, undefined],
          [missing, false, 404, 'order_not_found'],
          [pending!.id, false, 409, 'invalid_transition'],
        ],
      );

      const after = await Promise.all(placed.map((r) => api('GET', `/orders/${r.body.id}`)));
      assert.deepEqual(
        after.map((r) => r.body.status),
        ['DELIVERED', 'DELIVERED', 'DELIVERED', 'PENDING', 'REJECTED', 'DELIVERED', 'DELIVERED'],
      );
      assert.equal(after[1]!.body.vehicleNumber, 'CAB-1');
      assert.deepEqual(after[2]!.body, doneBefore, 'delivered already: untouched');
      // One log line per order that moved, in the flow of the release that moved it; none for the no-op.
      const delivered = (o: OrderJson) =>
        rt.lines.filter((l) => l.msg === `Order ${o.orderNumber} is DELIVERED`);
      assert.deepEqual(
        delivered(confirmed!).map((l) => l.correlationId),
        ['req-deliver-a'],
      );
      assert.deepEqual(
        delivered(dispatchedOne!).map((l) => l.correlationId),
        ['req-deliver-b'],
      );
      assert.equal(delivered(done!).length, 1, 'only from its PATCH');
      assert.equal(delivered(second!).length, 1);
    });

    it('bad input is 400 validation_failed and changes nothing', async () => {
      const order = (await api('POST', '/orders', buildOrder())).body;
      await confirm(order);
      for (const body of [
        {},
        { deliveries: [] },
        { deliveries: [{ orderId: 0 }] },
        { deliveries: [{ orderId: order.id, status: 'DELIVERED' }] },
        { deliveries: [{ orderId: order.id }], extra: 1 },
        { deliveries: [{ orderId: String(order.id) }] },
        { deliveries: Array.from({ length: 501 }, () => ({ orderId: order.id })) },
      ]) {
        const res = await api<ErrorBody>('POST', '/orders/deliveries', body);
        assert.equal(res.status, 400, JSON.stringify(body).slice(0, 100));
        assert.equal(res.body.error.code, 'validation_failed');
      }
      assert.equal((await api('GET', `/orders/${order.id}`)).body.status, 'CONFIRMED');
    });
  });
});
