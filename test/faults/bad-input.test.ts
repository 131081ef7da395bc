/**
 * Bad input across every endpoint of the three real processes: each case gets its documented
 * 4xx as a JSON error, and writes nothing (every table of every service database has the same
 * checksum before and after). Valid-but-unusual input (any script, SQL-looking text) is stored
 * verbatim and comes back as it was sent. The system runs with INTERNAL_TOKEN set.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, waitFor, type ErrorBody } from '@delivery/common/testing';
import { startSystem, type ServiceName, type System } from '../support.js';
import { openDatabases, report, settle } from './checks.js';
import { startReleaser } from './flow.js';

const TOKEN = 'bad-input-suite-token-0123';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface Case {
  name: string;
  service: ServiceName;
  method: string;
  path: string;
  /** An object is sent as JSON; a string as it is (with a JSON content type); a Buffer with no content type. */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code?: string;
}

const order = (overrides: Record<string, unknown> = {}) => ({
  customerId: 1,
  city: 'Colombo',
  items: [{ productId: 101, price: 49.99, quantity: 2 }],
  ...overrides,
});
const item = (overrides: Record<string, unknown>) =>
  order({ items: [{ productId: 101, price: 1, quantity: 1, ...overrides }] });

const O = 'order-service';
const I = 'inventory-service';
const D = 'dispatcher-service';
const invalid = 'validation_failed';

/** Filled in before the cases run: an order that is DISPATCHED on ABC-1234 (Colombo), and a free vehicle. */
const known = { orderId: 0, freeVehicle: 'FREE-0001' };

const CASES: (() => Case)[] = [
  // POST /orders: types, ranges, missing and extra fields
  () => ({
    name: 'customerId as a string',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ customerId: 'abc' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'customerId 0',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ customerId: 0 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'customerId negative',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ customerId: -1 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'customerId fractional',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ customerId: 1.5 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'customerId above INT',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ customerId: 2 ** 31 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'customerId null',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ customerId: null }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'customerId missing',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ customerId: undefined }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city missing',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: undefined }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city empty',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: '' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city only spaces',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: '   ' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city of 101 characters',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: 'x'.repeat(101) }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city as a number',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: 123 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city with a NUL',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: 'Col\u0000ombo' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city with a newline',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: 'Colombo\nKandy' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'city with an unpaired surrogate',
    service: O,
    method: 'POST',
    path: '/orders',
    body: '{"customerId":1,"city":"\\ud800","items":[{"productId":101,"price":1,"quantity":1}]}',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'items empty',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ items: [] }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'items not an array',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ items: 'rice' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: '101 items',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ items: Array(101).fill({ productId: 101, price: 1, quantity: 1 }) }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'productId as a string',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ productId: '101' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'quantity 0',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ quantity: 0 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'quantity 1001',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ quantity: 1001 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'quantity fractional',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ quantity: 1.5 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'price negative',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ price: -1 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'price with 3 decimals',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ price: 1.234 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'price as a string',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ price: '49.99' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'price above the maximum',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ price: 1e7 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'total beyond DECIMAL(12,2)',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ items: Array(100).fill({ productId: 101, price: 1_000_000, quantity: 1000 }) }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'unknown item field',
    service: O,
    method: 'POST',
    path: '/orders',
    body: item({ discount: 5 }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'unknown top-level field',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ status: 'DELIVERED' }),
    status: 400,
    code: invalid,
  }),
  () => ({
    name: '__proto__ field',
    service: O,
    method: 'POST',
    path: '/orders',
    body: '{"__proto__":{"admin":true},"customerId":1,"city":"Colombo","items":[{"productId":101,"price":1,"quantity":1}]}',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'body null',
    service: O,
    method: 'POST',
    path: '/orders',
    body: 'null',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'body an array',
    service: O,
    method: 'POST',
    path: '/orders',
    body: '[]',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'body a JSON string',
    service: O,
    method: 'POST',
    path: '/orders',
    body: '"order"',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'JSON body empty',
    service: O,
    method: 'POST',
    path: '/orders',
    body: '',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'malformed JSON',
    service: O,
    method: 'POST',
    path: '/orders',
    body: '{"customerId": 1,',
    status: 400,
    code: 'malformed_json',
  }),
  () => ({
    name: 'JSON nested 20 000 deep',
    service: O,
    method: 'POST',
    path: '/orders',
    body: `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
    status: 400,
  }),
  // Content types, encodings, sizes
  () => ({
    name: 'text/plain',
    service: O,
    method: 'POST',
    path: '/orders',
    body: JSON.stringify(order()),
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  }),
  () => ({
    name: 'no content type',
    service: O,
    method: 'POST',
    path: '/orders',
    body: Buffer.from(JSON.stringify(order())),
    status: 415,
    code: 'unsupported_media_type',
  }),
  () => ({
    name: 'form-encoded',
    service: O,
    method: 'POST',
    path: '/orders',
    body: 'customerId=1&city=Colombo',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'unsupported_media_type',
  }),
  () => ({
    name: 'JSON in latin1',
    service: O,
    method: 'POST',
    path: '/orders',
    body: JSON.stringify(order()),
    headers: { 'content-type': 'application/json; charset=latin1' },
    status: 415,
    code: 'unsupported_media_type',
  }),
  () => ({
    name: 'unknown content-encoding',
    service: O,
    method: 'POST',
    path: '/orders',
    body: JSON.stringify(order()),
    headers: { 'content-type': 'application/json', 'content-encoding': 'br2' },
    status: 415,
    code: 'unsupported_media_type',
  }),
  () => ({
    name: 'gzip that is not gzip',
    service: O,
    method: 'POST',
    path: '/orders',
    body: JSON.stringify(order()),
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    status: 400,
    code: 'malformed_body',
  }),
  () => ({
    name: 'body just over 100 kB',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ city: 'x'.repeat(101 * 1024) }),
    status: 413,
    code: 'payload_too_large',
  }),
  () => ({
    name: 'body of 5 MB',
    service: O,
    method: 'POST',
    path: '/orders',
    body: order({ items: Array(200_000).fill({ productId: 101, price: 1, quantity: 1 }) }),
    status: 413,
    code: 'payload_too_large',
  }),
  // GET /orders/:id and GET /orders
  () => ({
    name: 'order id not numeric',
    service: O,
    method: 'GET',
    path: '/orders/abc',
    status: 400,
    code: invalid,
  }),
  () => ({ name: 'order id 0', service: O, method: 'GET', path: '/orders/0', status: 400, code: invalid }),
  () => ({
    name: 'order id negative',
    service: O,
    method: 'GET',
    path: '/orders/-1',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'order id fractional',
    service: O,
    method: 'GET',
    path: '/orders/1.5',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'order id of 11 digits',
    service: O,
    method: 'GET',
    path: '/orders/99999999999',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'order id SQL-looking',
    service: O,
    method: 'GET',
    path: `/orders/${encodeURIComponent("1' OR '1'='1")}`,
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'order id broken percent-encoding',
    service: O,
    method: 'GET',
    path: '/orders/%E0%A4%A',
    status: 400,
    code: 'malformed_path',
  }),
  () => ({
    name: 'order that does not exist',
    service: O,
    method: 'GET',
    path: '/orders/999999',
    status: 404,
    code: 'order_not_found',
  }),
  () => ({
    name: 'list with an unknown status',
    service: O,
    method: 'GET',
    path: '/orders?status=SHIPPED',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with limit 0',
    service: O,
    method: 'GET',
    path: '/orders?limit=0',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with limit 501',
    service: O,
    method: 'GET',
    path: '/orders?limit=501',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with limit abc',
    service: O,
    method: 'GET',
    path: '/orders?limit=abc',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with limit given twice',
    service: O,
    method: 'GET',
    path: '/orders?limit=1&limit=2',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with an unknown parameter',
    service: O,
    method: 'GET',
    path: '/orders?sort=id',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with a bracketed parameter',
    service: O,
    method: 'GET',
    path: '/orders?city[$ne]=x',
    status: 400,
    code: invalid,
  }),
  // PATCH /orders/:id (service-to-service)
  () => ({
    name: 'PATCH order without the token',
    service: O,
    method: 'PATCH',
    path: `/orders/${known.orderId}`,
    body: { status: 'DELIVERED' },
    status: 401,
    code: 'unauthorized',
  }),
  () => ({
    name: 'PATCH order with a wrong token',
    service: O,
    method: 'PATCH',
    path: `/orders/${known.orderId}`,
    body: { status: 'DELIVERED' },
    headers: { 'x-internal-token': 'x'.repeat(26) },
    status: 401,
    code: 'unauthorized',
  }),
  () => ({
    name: 'PATCH order to an unknown status',
    service: O,
    method: 'PATCH',
    path: `/orders/${known.orderId}`,
    body: { status: 'SHIPPED' },
    headers: AUTH,
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH order status in lower case',
    service: O,
    method: 'PATCH',
    path: `/orders/${known.orderId}`,
    body: { status: 'delivered' },
    headers: AUTH,
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH order without status',
    service: O,
    method: 'PATCH',
    path: `/orders/${known.orderId}`,
    body: {},
    headers: AUTH,
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH order with an extra field',
    service: O,
    method: 'PATCH',
    path: `/orders/${known.orderId}`,
    body: { status: 'DELIVERED', vehicleNumber: 'X' },
    headers: AUTH,
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH order backwards to PENDING',
    service: O,
    method: 'PATCH',
    path: `/orders/${known.orderId}`,
    body: { status: 'PENDING' },
    headers: AUTH,
    status: 409,
    code: 'invalid_transition',
  }),
  () => ({
    name: 'PATCH order id not numeric',
    service: O,
    method: 'PATCH',
    path: '/orders/abc',
    body: { status: 'DELIVERED' },
    headers: AUTH,
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH order that does not exist',
    service: O,
    method: 'PATCH',
    path: '/orders/999999',
    body: { status: 'DELIVERED' },
    headers: AUTH,
    status: 404,
    code: 'order_not_found',
  }),
  // inventory-service
  () => ({
    name: 'product without name',
    service: I,
    method: 'POST',
    path: '/products',
    body: { stock: 1 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product stock negative',
    service: I,
    method: 'POST',
    path: '/products',
    body: { name: 'Tea', stock: -1 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product stock fractional',
    service: I,
    method: 'POST',
    path: '/products',
    body: { name: 'Tea', stock: 1.5 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product stock as a string',
    service: I,
    method: 'POST',
    path: '/products',
    body: { name: 'Tea', stock: '10' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product stock above INT',
    service: I,
    method: 'POST',
    path: '/products',
    body: { name: 'Tea', stock: 2 ** 31 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product id 0',
    service: I,
    method: 'POST',
    path: '/products',
    body: { id: 0, name: 'Tea', stock: 1 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product id that exists',
    service: I,
    method: 'POST',
    path: '/products',
    body: { id: 101, name: 'Rice again', stock: 1 },
    status: 409,
    code: 'product_exists',
  }),
  () => ({
    name: 'product name of 201 characters',
    service: I,
    method: 'POST',
    path: '/products',
    body: { name: 'n'.repeat(201), stock: 1 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product name with a control character',
    service: I,
    method: 'POST',
    path: '/products',
    body: { name: 'Tea\u001b[31m', stock: 1 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product with an extra field',
    service: I,
    method: 'POST',
    path: '/products',
    body: { name: 'Tea', stock: 1, price: 2 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'product as text/plain',
    service: I,
    method: 'POST',
    path: '/products',
    body: '{"name":"Tea","stock":1}',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  }),
  () => ({
    name: 'PATCH product with nothing to change',
    service: I,
    method: 'PATCH',
    path: '/products/101',
    body: {},
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH product stock negative',
    service: I,
    method: 'PATCH',
    path: '/products/101',
    body: { stock: -5 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH product id not numeric',
    service: I,
    method: 'PATCH',
    path: '/products/abc',
    body: { stock: 1 },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'PATCH product that does not exist',
    service: I,
    method: 'PATCH',
    path: '/products/999999',
    body: { stock: 1 },
    status: 404,
    code: 'product_not_found',
  }),
  () => ({
    name: 'GET product id SQL-looking',
    service: I,
    method: 'GET',
    path: `/products/${encodeURIComponent('101;DROP TABLE products')}`,
    status: 400,
    code: invalid,
  }),
  // dispatcher-service
  () => ({
    name: 'vehicle_number SQL-looking',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: "ABC'; DROP TABLE vehicles;--", city: 'Colombo' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle_number empty',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: '', city: 'Colombo' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle_number of 33 characters',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 'A'.repeat(33), city: 'Colombo' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle_number in Sinhala script',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 'කොළඹ-1', city: 'Colombo' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle_number as a number',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 1234, city: 'Colombo' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle_number with a glob',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 'AB*', city: 'Colombo' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle without city',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 'NEW-0001' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle city with a tab',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 'NEW-0001', city: 'Col\tombo' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'vehicle registered twice (other case)',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 'abc-1234', city: 'Colombo' },
    status: 409,
    code: 'vehicle_exists',
  }),
  () => ({
    name: 'vehicle with an extra field',
    service: D,
    method: 'POST',
    path: '/dispatch-locations',
    body: { vehicle_number: 'NEW-0001', city: 'Colombo', driver: 'x' },
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list a city of 101 characters',
    service: D,
    method: 'GET',
    path: `/dispatch-locations/${'c'.repeat(101)}`,
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with available=yes',
    service: D,
    method: 'GET',
    path: '/dispatch-locations/Colombo?available=yes',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with an unknown parameter',
    service: D,
    method: 'GET',
    path: '/dispatch-locations/Colombo?limit=1',
    status: 400,
    code: invalid,
  }),
  () => ({
    name: 'list with broken percent-encoding',
    service: D,
    method: 'GET',
    path: '/dispatch-locations/%ZZ',
    status: 400,
    code: 'malformed_path',
  }),
  () => ({
    name: 'release without the token',
    service: D,
    method: 'PATCH',
    path: '/dispatch-locations/ABC-1234/release',
    status: 401,
    code: 'unauthorized',
  }),
  () => ({
    name: 'release (city form) with a wrong token',
    service: D,
    method: 'PATCH',
    path: '/dispatch-locations/ABC-1234/Colombo/release',
    headers: { authorization: 'Bearer not-the-token-at-all' },
    status: 401,
    code: 'unauthorized',
  }),
  () => ({
    name: 'release of an unknown vehicle',
    service: D,
    method: 'PATCH',
    path: '/dispatch-locations/NOPE-0000/release',
    headers: AUTH,
    status: 404,
    code: 'vehicle_not_found',
  }),
  () => ({
    name: 'release in a city that is not the vehicle’s',
    service: D,
    method: 'PATCH',
    path: '/dispatch-locations/ABC-1234/Kandy/release',
    headers: AUTH,
    status: 404,
    code: 'vehicle_not_found',
  }),
  () => ({
    name: 'release of a free vehicle',
    service: D,
    method: 'PATCH',
    path: `/dispatch-locations/${known.freeVehicle}/release`,
    headers: AUTH,
    status: 409,
    code: 'vehicle_not_allocated',
  }),
  () => ({
    name: 'release with a SQL-looking vehicle',
    service: D,
    method: 'PATCH',
    path: `/dispatch-locations/${encodeURIComponent("A' OR 1=1;--")}/release`,
    headers: AUTH,
    status: 400,
    code: invalid,
  }),
  // Routes, methods and very long paths, on each service
  ...([O, I, D] as ServiceName[]).flatMap((service): (() => Case)[] => [
    () => ({
      name: `${service}: unknown route`,
      service,
      method: 'GET',
      path: '/admin',
      status: 404,
      code: 'not_found',
    }),
    () => ({
      name: `${service}: path of 10 000 characters`,
      service,
      method: 'GET',
      path: `/${'a'.repeat(10_000)}`,
      status: 404,
      code: 'not_found',
    }),
    () => ({
      name: `${service}: path of 20 000 characters`,
      service,
      method: 'GET',
      path: `/${'a'.repeat(20_000)}`,
      status: 414,
      code: 'uri_too_long',
    }),
    () => ({
      name: `${service}: a 20 kB header`,
      service,
      method: 'GET',
      path: '/healthz',
      headers: { 'x-junk': 'j'.repeat(20_000) },
      status: 431,
      code: 'headers_too_large',
    }),
  ]),
  () => ({
    name: 'DELETE an order',
    service: O,
    method: 'DELETE',
    path: '/orders/1',
    status: 404,
    code: 'not_found',
  }),
  () => ({
    name: 'PUT a product',
    service: I,
    method: 'PUT',
    path: '/products/101',
    body: { name: 'x', stock: 1 },
    status: 404,
    code: 'not_found',
  }),
  () => ({
    name: 'DELETE a vehicle',
    service: D,
    method: 'DELETE',
    path: '/dispatch-locations/ABC-1234',
    status: 404,
    code: 'not_found',
  }),
];

const TABLES: Record<ServiceName, string[]> = {
  'order-service': ['orders', 'order_items', 'outbox', 'processed_events'],
  'inventory-service': ['products', 'reservations', 'reservation_items', 'outbox', 'processed_events'],
  'dispatcher-service': [
    'vehicles',
    'assignments',
    'waiting_orders',
    'city_locks',
    'outbox',
    'processed_events',
  ],
};

async function send(url: string, c: Case) {
  const headers: Record<string, string> = { ...c.headers };
  let body: string | Buffer | undefined;
  if (Buffer.isBuffer(c.body)) body = c.body;
  else if (c.body !== undefined) {
    body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${url}${c.path}`, { method: c.method, headers, body });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text };
}

describe('bad input on every endpoint: the documented 4xx, and nothing written', () => {
  let system: System;
  let dbs: ReturnType<typeof openDatabases>;
  let tried = 0;
  let written = 0;

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
    const { 'order-service': o, 'inventory-service': i, 'dispatcher-service': d } = system.services;
    assert.equal(
      (await call('POST', `${i.url}/products`, { id: 101, name: 'Rice 5kg', stock: 1000 })).status,
      201,
    );
    assert.equal(
      (await call('POST', `${d.url}/dispatch-locations`, { vehicle_number: 'ABC-1234', city: 'Colombo' }))
        .status,
      201,
    );
    const placed = await call<{ id: number }>('POST', `${o.url}/orders`, order());
    known.orderId = placed.body.id;
    await waitFor(
      async () =>
        (await call<{ status: string }>('GET', `${o.url}/orders/${known.orderId}`)).body.status ===
        'DISPATCHED',
      {
        what: 'the fixture order DISPATCHED',
      },
    );
    assert.equal(
      (
        await call('POST', `${d.url}/dispatch-locations`, {
          vehicle_number: known.freeVehicle,
          city: 'Galle',
        })
      ).status,
      201,
    );
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

  for (const make of CASES) {
    const c = make();
    it(`${c.name}: ${c.status}${c.code ? ` ${c.code}` : ''}, nothing written`, async () => {
      const c = make();
      const before = await snapshot();
      const res = await send(system.services[c.service].url, c);
      tried += 1;
      assert.equal(res.status, c.status, `${c.method} ${c.path.slice(0, 80)}: ${res.text.slice(0, 300)}`);
      if (c.method !== 'HEAD') {
        assert.match(res.type, /^application\/json/, 'the error is JSON');
        const body = JSON.parse(res.text) as ErrorBody;
        assert.equal(typeof body.error.message, 'string');
        if (c.code) assert.equal(body.error.code, c.code);
      }
      const after = await snapshot();
      if (after !== before) written += 1;
      assert.equal(after, before, 'nothing written');
    });
  }

  describe('valid but unusual input is stored verbatim and comes back as sent', () => {
    const place = async (city: string) => {
      const res = await call<{ id: number; city: string }>(
        'POST',
        `${system.services[O].url}/orders`,
        order({ city }),
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const statusOf = async (id: number) =>
      (
        await call<{ status: string; city: string; vehicleNumber: string | null }>(
          'GET',
          `${system.services[O].url}/orders/${id}`,
        )
      ).body;
    const register = (vehicle_number: string, city: string) =>
      call('POST', `${system.services[D].url}/dispatch-locations`, { vehicle_number, city });
    const listed = async (city: string) =>
      (
        await call<{ vehicle_number: string }[]>(
          'GET',
          `${system.services[D].url}/dispatch-locations/${encodeURIComponent(city)}`,
        )
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
      const releaser = startReleaser(system, {
        fixture: { cities: ['Male'], vehiclesPerCity: 0, products: [] },
        headers: AUTH,
      });
      await new Promise((r) => setTimeout(r, 1_000));
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
