import { z } from 'zod';
import type { RouteDoc } from '@delivery/common';
import { createProductBody, productIdParam, productResponse, updateProductBody } from './product-schemas.js';

const tags = ['products'];

/** What only the routes know (path, statuses, prose); the schemas are product-schemas.ts's, generated. */
export const productRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/products',
    summary: 'Add a product (id optional)',
    tags,
    body: createProductBody,
    responses: {
      201: { description: 'the product', schema: productResponse },
      400: { description: 'validation_failed, with details' },
      409: { description: 'product_exists' },
    },
  },
  {
    method: 'get',
    path: '/products',
    summary: 'All products',
    tags,
    responses: { 200: { description: 'products', schema: z.array(productResponse) } },
  },
  {
    method: 'get',
    path: '/products/:id',
    summary: 'One product',
    tags,
    params: productIdParam,
    responses: {
      200: { description: 'the product', schema: productResponse },
      400: { description: 'the id is not a positive integer' },
      404: { description: 'no such product' },
    },
  },
  {
    method: 'patch',
    path: '/products/:id',
    summary: 'Rename a product or set its stock',
    tags,
    params: productIdParam,
    body: updateProductBody,
    responses: {
      200: { description: 'the product', schema: productResponse },
      400: { description: 'validation_failed' },
      404: { description: 'no such product' },
    },
  },
];
