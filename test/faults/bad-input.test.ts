/**
 * Bad input across every endpoint of the three real processes: each case gets its documented
 * 4xx as a JSON error, and writes nothing (every table of every service database has the same
 * checksum before and after). Valid-but-unusual input (any script, SQL-looking text) is stored
 * verbatim and comes back as it was sent. The system runs with INTERNAL_TOKEN set.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { client, waitFor, type ErrorBody } from '@delivery/common/testing';
import { startSystem, type ServiceName, type System } from '../support.js';
import { openDatabases, report, settle } from './checks.js';
import { startReleaser } from './flow.js';

const TOKEN = 'bad-input-suite-token-0123';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** One request and the answer it must get. */
interface Case {
  name: string;
  service: ServiceName;
  method: string;
  /** `{order}` stands for the fixture order's id, known once `before` has run. */
  path: string;
  /** An object is sent as JSON; a string as it is (with a JSON content type); a Buffer with no content type. */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code?: string;
}

/** Rows of one endpoint: each names its case and gives what differs from `base`. */
const rows = (base: Omit<Case, 'name'>, cases: [name: string, differs?: Partial<Case>][]): Case[] =>
  cases.map(([name, differs]) => ({ ...base, ...differs, name }));

const order = (overrides: Record<string, unknown> = {}) => ({
  customerId: 1,
  city: 'Colombo',
  items: [{ productId: 101, price: 49.99, quantity: 2 }],
  ...overrides,
});
const item = (overrides: Record<string, unknown>) =>
  order({ items: [{ productId: 101, price: 1, quantity: 1, ...overrides }] });
const lines = (n: number, line: Record<string, unknown>) => order({ items: Array(n).fill(line) });

const O = 'order-service';
const I = 'inventory-service';
const D = 'dispatcher-service';
const invalid = 'validation_failed';
const unsupported = { status: 415, code: 'unsupported_media_type' };
const notFound = { status: 404, code: 'not_found' };
const unauthorized = { status: 401, code: 'unauthorized' };

/** Registered by `before` in Galle, and never allocated. */
const FREE_VEHICLE = 'FREE-0001';
/** Filled in by `before`: an order that is DISPATCHED on ABC-1234 (Colombo). */
const known = { orderId: 0 };

const CASES: Case[] = [
  // POST /orders: types, ranges, missing and extra fields
  ...rows({ service: O, method: 'POST', path: '/orders', status: 400, code: invalid }, [
    ['customerId as a string', { body: order({ customerId: 'abc' }) }],
    ['customerId 0', { body: order({ customerId: 0 }) }],
    ['customerId negative', { body: order({ customerId: -1 }) }],
    ['customerId fractional', { body: order({ customerId: 1.5 }) }],
    ['customerId above INT', { body: order({ customerId: 2 ** 31 }) }],
    ['customerId null', { body: order({ customerId: null }) }],
    ['customerId missing', { body: order({ customerId: undefined }) }],
    ['city missing', { body: order({ city: undefined }) }],
    ['city empty', { body: order({ city: '' }) }],
    ['city only spaces', { body: order({ city: '   ' }) }],
    ['city of 101 characters', { body: order({ city: 'x'.repeat(101) }) }],
    ['city as a number', { body: order({ city: 123 }) }],
    ['city with a NUL', { body: order({ city: 'Col\u0000ombo' }) }],
    ['city with a newline', { body: order({ city: 'Colombo\nKandy' }) }],
    [
      'city with an unpaired surrogate',
      { body: '{"customerId":1,"city":"\\ud800","items":[{"productId":101,"price":1,"quantity":1}]}' },
    ],
    ['items empty', { body: order({ items: [] }) }],
    ['items not an array', { body: order({ items: 'rice' }) }],
    ['101 items', { body: lines(101, { productId: 101, price: 1, quantity: 1 }) }],
    ['productId as a string', { body: item({ productId: '101' }) }],
    ['quantity 0', { body: item({ quantity: 0 }) }],
    ['quantity 1001', { body: item({ quantity: 1001 }) }],
    ['quantity fractional', { body: item({ quantity: 1.5 }) }],
    ['price negative', { body: item({ price: -1 }) }],
    ['price with 3 decimals', { body: item({ price: 1.234 }) }],
    ['price as a string', { body: item({ price: '49.99' }) }],
    ['price above the maximum', { body: item({ price: 1e7 }) }],
    [
      'total beyond DECIMAL(12,2)',
      { body: lines(100, { productId: 101, price: 1_000_000, quantity: 1000 }) },
    ],
    ['unknown item field', { body: item({ discount: 5 }) }],
    ['unknown top-level field', { body: order({ status: 'DELIVERED' }) }],
    [
      '__proto__ field',
      {
        body: '{"__proto__":{"admin":true},"customerId":1,"city":"Colombo","items":[{"productId":101,"price":1,"quantity":1}]}',
      },
    ],
    ['body null', { body: 'null' }],
    ['body an array', { body: '[]' }],
    ['body a JSON string', { body: '"order"' }],
    ['JSON body empty', { body: '' }],
    ['malformed JSON', { body: '{"customerId": 1,', code: 'malformed_json' }],
    ['JSON nested 20 000 deep', { body: `${'['.repeat(20_000)}${']'.repeat(20_000)}`, code: undefined }],
  ]),
  // Content types, encodings, sizes
  ...rows({ service: O, method: 'POST', path: '/orders', body: JSON.stringify(order()), ...unsupported }, [
    ['text/plain', { headers: { 'content-type': 'text/plain' } }],
    ['no content type', { body: Buffer.from(JSON.stringify(order())) }],
    [
      'form-encoded',
      { body: 'customerId=1&city=Colombo', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    ],
    ['JSON in latin1', { headers: { 'content-type': 'application/json; charset=latin1' } }],
    [
      'unknown content-encoding',
      { headers: { 'content-type': 'application/json', 'content-encoding': 'br2' } },
    ],
    [
      'gzip that is not gzip',
      {
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        status: 400,
        code: 'malformed_body',
      },
    ],
  ]),
  ...rows({ service: O, method: 'POST', path: '/orders', status: 413, code: 'payload_too_large' }, [
    ['body just over 100 kB', { body: order({ city: 'x'.repeat(101 * 1024) }) }],
    ['body of 5 MB', { body: lines(200_000, { productId: 101, price: 1, quantity: 1 }) }],
  ]),
  // GET /orders/:id and GET /orders
  ...rows({ service: O, method: 'GET', path: '', status: 400, code: invalid }, [
    ['order id not numeric', { path: '/orders/abc' }],
    ['order id 0', { path: '/orders/0' }],
    ['order id negative', { path: '/orders/-1' }],
    ['order id fractional', { path: '/orders/1.5' }],
    ['order id of 11 digits', { path: '/orders/99999999999' }],
    ['order id SQL-looking', { path: `/orders/${encodeURIComponent("1' OR '1'='1")}` }],
    ['order id broken percent-encoding', { path: '/orders/%E0%A4%A', code: 'malformed_path' }],
    ['order that does not exist', { path: '/orders/999999', status: 404, code: 'order_not_found' }],
    ['list with an unknown status', { path: '/orders?status=SHIPPED' }],
    ['list with limit 0', { path: '/orders?limit=0' }],
    ['list with limit 501', { path: '/orders?limit=501' }],
    ['list with limit abc', { path: '/orders?limit=abc' }],
    ['list with limit given twice', { path: '/orders?limit=1&limit=2' }],
    ['list with an unknown parameter', { path: '/orders?sort=id' }],
    ['list with a bracketed parameter', { path: '/orders?city[$ne]=x' }],
  ]),
  // PATCH /orders/:id (service-to-service)
  ...rows(
    { service: O, method: 'PATCH', path: '/orders/{order}', headers: AUTH, status: 400, code: invalid },
    [
      [
        'PATCH order without the token',
        { body: { status: 'DELIVERED' }, headers: undefined, ...unauthorized },
      ],
      [
        'PATCH order with a wrong token',
        { body: { status: 'DELIVERED' }, headers: { 'x-internal-token': 'x'.repeat(26) }, ...unauthorized },
      ],
      ['PATCH order to an unknown status', { body: { status: 'SHIPPED' } }],
      ['PATCH order status in lower case', { body: { status: 'delivered' } }],
      ['PATCH order without status', { body: {} }],
      ['PATCH order with an extra field', { body: { status: 'DELIVERED', vehicleNumber: 'X' } }],
      [
        'PATCH order backwards to PENDING',
        { body: { status: 'PENDING' }, status: 409, code: 'invalid_transition' },
      ],
      ['PATCH order id not numeric', { path: '/orders/abc', body: { status: 'DELIVERED' } }],
      [
        'PATCH order that does not exist',
        { path: '/orders/999999', body: { status: 'DELIVERED' }, status: 404, code: 'order_not_found' },
      ],
    ],
  ),
  // inventory-service
  ...rows({ service: I, method: 'POST', path: '/products', status: 400, code: invalid }, [
    ['product without name', { body: { stock: 1 } }],
    ['product stock negative', { body: { name: 'Tea', stock: -1 } }],
    ['product stock fractional', { body: { name: 'Tea', stock: 1.5 } }],
    ['product stock as a string', { body: { name: 'Tea', stock: '10' } }],
    ['product stock above INT', { body: { name: 'Tea', stock: 2 ** 31 } }],
    ['product id 0', { body: { id: 0, name: 'Tea', stock: 1 } }],
    [
      'product id that exists',
      { body: { id: 101, name: 'Rice again', stock: 1 }, status: 409, code: 'product_exists' },
    ],
    ['product name of 201 characters', { body: { name: 'n'.repeat(201), stock: 1 } }],
    ['product name with a control character', { body: { name: 'Tea\u001b[31m', stock: 1 } }],
    ['product with an extra field', { body: { name: 'Tea', stock: 1, price: 2 } }],
    [
      'product as text/plain',
      { body: '{"name":"Tea","stock":1}', headers: { 'content-type': 'text/plain' }, ...unsupported },
    ],
  ]),
  ...rows({ service: I, method: 'PATCH', path: '/products/101', status: 400, code: invalid }, [
    ['PATCH product with nothing to change', { body: {} }],
    ['PATCH product stock negative', { body: { stock: -5 } }],
    ['PATCH product id not numeric', { path: '/products/abc', body: { stock: 1 } }],
    [
      'PATCH product that does not exist',
      { path: '/products/999999', body: { stock: 1 }, status: 404, code: 'product_not_found' },
    ],
  ]),
  ...rows({ service: I, method: 'GET', path: '', status: 400, code: invalid }, [
    ['GET product id SQL-looking', { path: `/products/${encodeURIComponent('101;DROP TABLE products')}` }],
  ]),
  // dispatcher-service
  ...rows({ service: D, method: 'POST', path: '/dispatch-locations', status: 400, code: invalid }, [
    [
      'vehicle_number SQL-looking',
      { body: { vehicle_number: "ABC'; DROP TABLE vehicles;--", city: 'Colombo' } },
    ],
    ['vehicle_number empty', { body: { vehicle_number: '', city: 'Colombo' } }],
    ['vehicle_number of 33 characters', { body: { vehicle_number: 'A'.repeat(33), city: 'Colombo' } }],
    ['vehicle_number in Sinhala script', { body: { vehicle_number: 'කොළඹ-1', city: 'Colombo' } }],
    ['vehicle_number as a number', { body: { vehicle_number: 1234, city: 'Colombo' } }],
    ['vehicle_number with a glob', { body: { vehicle_number: 'AB*', city: 'Colombo' } }],
    ['vehicle without city', { body: { vehicle_number: 'NEW-0001' } }],
    ['vehicle city with a tab', { body: { vehicle_number: 'NEW-0001', city: 'Col\tombo' } }],
    [
      'vehicle registered twice (other case)',
      { body: { vehicle_number: 'abc-1234', city: 'Colombo' }, status: 409, code: 'vehicle_exists' },
    ],
    ['vehicle with an extra field', { body: { vehicle_number: 'NEW-0001', city: 'Colombo', driver: 'x' } }],
  ]),
  ...rows({ service: D, method: 'GET', path: '', status: 400, code: invalid }, [
    ['list a city of 101 characters', { path: `/dispatch-locations/${'c'.repeat(101)}` }],
    ['list with available=yes', { path: '/dispatch-locations/Colombo?available=yes' }],
    ['list with an unknown parameter', { path: '/dispatch-locations/Colombo?limit=1' }],
    ['list with broken percent-encoding', { path: '/dispatch-locations/%ZZ', code: 'malformed_path' }],
  ]),
  ...rows({ service: D, method: 'PATCH', path: '', headers: AUTH, status: 400, code: invalid }, [
    [
      'release without the token',
      { path: '/dispatch-locations/ABC-1234/release', headers: undefined, ...unauthorized },
    ],
    [
      'release (city form) with a wrong token',
      {
        path: '/dispatch-locations/ABC-1234/Colombo/release',
        headers: { authorization: 'Bearer not-the-token-at-all' },
        ...unauthorized,
      },
    ],
    [
      'release of an unknown vehicle',
      { path: '/dispatch-locations/NOPE-0000/release', status: 404, code: 'vehicle_not_found' },
    ],
    [
      'release in a city that is not the vehicle’s',
      { path: '/dispatch-locations/ABC-1234/Kandy/release', status: 404, code: 'vehicle_not_found' },
    ],
    [
      'release of a free vehicle',
      { path: `/dispatch-locations/${FREE_VEHICLE}/release`, status: 409, code: 'vehicle_not_allocated' },
    ],
    [
      'release with a SQL-looking vehicle',
      { path: `/dispatch-locations/${encodeURIComponent("A' OR 1=1;--")}/release` },
    ],
  ]),
  // Routes, methods and very long paths, on each service
  ...([O, I, D] as ServiceName[]).flatMap((service) =>
    rows({ service, method: 'GET', path: '', ...notFound }, [
      [`${service}: unknown route`, { path: '/admin' }],
      [`${service}: path of 10 000 characters`, { path: `/${'a'.repeat(10_000)}` }],
      [
        `${service}: path of 20 000 characters`,
        { path: `/${'a'.repeat(20_000)}`, status: 414, code: 'uri_too_long' },
      ],
      [
        `${service}: a 20 kB header`,
        {
          path: '/healthz',
          headers: { 'x-junk': 'j'.repeat(20_000) },
          status: 431,
          code: 'headers_too_large',
        },
      ],
    ]),
  ),
  { name: 'DELETE an order', service: O, method: 'DELETE', path: '/orders/1', ...notFound },
  {
    name: 'PUT a product',
    service: I,
    method: 'PUT',
    path: '/products/101',
    body: { name: 'x', stock: 1 },
    ...notFound,
  },
  {
    name: 'DELETE a vehicle',
    service: D,
    method: 'DELETE',
    path: '/dispatch-locations/ABC-1234',
    ...notFound,
  },
];

const TABLES: Record<ServiceName, string[]> = {
  'order-service': ['orders', 'order_items', 'outbox'],
  'inventory-service': ['products', 'reservations', 'reservation_items', 'outbox'],
  'dispatcher-service': ['vehicles', 'assignments', 'waiting_orders', 'city_locks', 'outbox'],
};

describe('bad input on every endpoint: the documented 4xx, and nothing written', () => {
  let system: System;
  let dbs: ReturnType<typeof openDatabases>;
  let tried = 0;
  let written = 0;
  const api = (service: ServiceName) => client(system.services[service].url);

  /** Every table of every service database, by checksum: any insert, update or delete changes it. */
  async function snapshot(): Promise<string> {
    const parts: unknown[] = [];
    for (const [service, tables] of Object.entries(TABLES) as [ServiceName, string[]][]) {
      const [rows] = (await dbs[service].raw('CHECKSUM TABLE ??', [tables])) as [
        { Table: string; Checksum: number }[],
      ];
      parts.push(rows.map((r) => [r.Table.replace(/^.*\./, ''), r.Checksum]));
    }
    return JSON.stringify(parts);
  }

  before(async () => {
    system = await startSystem({
      'order-service': { INTERNAL_TOKEN: TOKEN },
      'dispatcher-service': { INTERNAL_TOKEN: TOKEN },
    });
    dbs = openDatabases(system);
    assert.equal((await api(I).post('/products', { id: 101, name: 'Rice 5kg', stock: 1000 })).status, 201);
    const abc = await api(D).post('/dispatch-locations', { vehicle_number: 'ABC-1234', city: 'Colombo' });
    assert.equal(abc.status, 201);
    known.orderId = (await api(O).post<{ id: number }>('/orders', order())).body.id;
    await waitFor(
      async () =>
        (await api(O).get<{ status: string }>(`/orders/${known.orderId}`)).body.status === 'DISPATCHED',
      { what: 'the fixture order DISPATCHED' },
    );
    const free = await api(D).post('/dispatch-locations', { vehicle_number: FREE_VEHICLE, city: 'Galle' });
    assert.equal(free.status, 201);
    // Nothing may still be moving when the first snapshot is taken.
    await waitFor(
      async () =>
        (await dbs['order-service']('outbox').whereNull('published_at').first()) === undefined &&
        (await dbs['dispatcher-service']('outbox').whereNull('published_at').first()) === undefined,
      { what: 'outboxes drained' },
    );
  });
  after(async () => {
    report({ scenario: 'bad input', badInputsTried: tried, written });
    await dbs?.close();
    await system?.stop();
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.status}${c.code ? ` ${c.code}` : ''}, nothing written`, async () => {
      const path = c.path.replace('{order}', String(known.orderId));
      const before = await snapshot();
      const res = await api(c.service).request<ErrorBody>(c.method, path, c.body, c.headers);
      tried += 1;
      assert.equal(res.status, c.status, `${c.method} ${path.slice(0, 80)}: ${res.text.slice(0, 300)}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'the error is JSON');
      assert.equal(typeof res.body.error.message, 'string');
      if (c.code) assert.equal(res.body.error.code, c.code);
      const after = await snapshot();
      if (after !== before) written += 1;
      assert.equal(after, before, 'nothing written');
    });
  }

  describe('valid but unusual input is stored verbatim and comes back as sent', () => {
    const place = async (city: string) => {
      const res = await api(O).post<{ id: number; city: string }>('/orders', order({ city }));
      assert.equal(res.status, 201, res.text);
      return res.body;
    };
    const statusOf = async (id: number) =>
      (await api(O).get<{ status: string; city: string; vehicleNumber: string | null }>(`/orders/${id}`))
        .body;
    const register = (vehicle_number: string, city: string) =>
      api(D).post('/dispatch-locations', { vehicle_number, city });
    const listed = async (city: string) =>
      (
        await api(D).get<{ vehicle_number: string }[]>(`/dispatch-locations/${encodeURIComponent(city)}`)
      ).body.map((v) => v.vehicle_number);

    for (const city of [
      'Kōbe',
      'කොළඹ',
      '東京',
      "Colombo'; DROP TABLE orders;--",
      'São Paulo 😀',
      '<script>alert(1)</script>',
    ]) {
      it(`city ${JSON.stringify(city)} round-trips through order-service and the dispatcher, and is dispatched in its own city`, async () => {
        const vehicle = `V-${Buffer.from(city).toString('hex').slice(0, 8).toUpperCase()}`;
        assert.equal((await register(vehicle, city)).status, 201);
        assert.deepEqual(await listed(city), [vehicle]);
        assert.deepEqual(await listed(city.toUpperCase()), [vehicle], 'case-insensitive');
        const placed = await place(`  ${city} `);
        assert.equal(placed.city, city, 'trimmed, otherwise as sent');
        const dispatched = await waitFor(
          async () => {
            const o = await statusOf(placed.id);
            return o.status === 'DISPATCHED' && o;
          },
          { what: `the ${city} order DISPATCHED` },
        );
        assert.equal(dispatched.city, city);
        assert.equal(dispatched.vehicleNumber, vehicle);
      });
    }

    it('cities that differ only by an accent or by an emoji are different cities', async () => {
      assert.equal((await register('KOBE-0001', 'Kobe')).status, 201);
      assert.equal((await register('SMILE-0001', '😁')).status, 201);
      assert.deepEqual(await listed('Kobe'), ['KOBE-0001']);
      assert.ok(!(await listed('Kōbe')).includes('KOBE-0001'), 'Kōbe does not list the Kobe vehicle');
      assert.deepEqual(await listed('😁'), ['SMILE-0001']);
      assert.deepEqual(await listed('😂'), []);
      // An order for Malé must not take the vehicle of Male.
      assert.equal((await register('MALE-0001', 'Male')).status, 201);
      const placed = await place('Malé');
      await waitFor(async () => (await statusOf(placed.id)).status === 'CONFIRMED', {
        what: 'the Malé order CONFIRMED',
      });
      // The dispatcher has decided on the order once it is queued or on a vehicle (waiting is
      // its answer to a city without a free vehicle): no wait for time, its tables say it.
      const dispatch = dbs['dispatcher-service'];
      const decision = await waitFor(
        async () => {
          if (await dispatch('waiting_orders').where({ order_id: placed.id }).first()) return 'queued';
          if (await dispatch('assignments').where({ order_id: placed.id }).first()) return 'allocated';
          return undefined;
        },
        { what: 'the dispatcher deciding on the Malé order' },
      );
      assert.equal(decision, 'queued', 'the Malé order waits for a vehicle of its own city');
      // Releases in Male hand a freed vehicle to whoever waits for it there: one full round of
      // them (every allocated Male vehicle released) is the releaser's chance to do so.
      const releaser = startReleaser(system, {
        fixture: { cities: ['Male'], vehiclesPerCity: 0, products: [] },
        headers: AUTH,
      });
      await waitFor(() => releaser.rounds >= 1, { what: 'a round of releases in Male' });
      await releaser.stop();
      assert.equal((await statusOf(placed.id)).vehicleNumber, null, 'not dispatched on the Male vehicle');
      assert.deepEqual(await listed('Male'), ['MALE-0001']);
    });

    it('the tables are all still there, and the flow settles with the internal token in use', async () => {
      for (const [service, tables] of Object.entries(TABLES) as [ServiceName, string[]][]) {
        for (const table of tables) await dbs[service](table).count({ n: '*' });
      }
      const releaser = startReleaser(system, {
        fixture: {
          cities: [
            'Colombo',
            'Kōbe',
            'කොළඹ',
            '東京',
            "Colombo'; DROP TABLE orders;--",
            'São Paulo 😀',
            '<script>alert(1)</script>',
            'Malé',
          ],
          vehiclesPerCity: 0,
          products: [],
        },
        headers: AUTH,
      });
      await register('MALE-0002', 'Malé');
      await settle(system);
      await releaser.stop();
    });
  });
});
