import type { Express } from 'express';
import {
  changeProduct,
  createProduct,
  findProducts,
  getProduct,
  type ProductsDeps,
} from './manage-products.js';
import { createProductBody, productIdParam, updateProductBody } from './product-schemas.js';

export function registerProductRoutes(app: Express, deps: ProductsDeps): void {
  const scoped = { ...deps, logger: deps.logger.child({ module: 'products' }) };

  app.post('/products', async (req, res) => {
    const product = await createProduct(scoped, createProductBody.parse(req.body));
    res.status(201).location(`/products/${product.id}`).json(product);
  });

  app.get('/products', async (_req, res) => {
    res.json(await findProducts(scoped));
  });

  app.get('/products/:id', async (req, res) => {
    const { id } = productIdParam.parse(req.params);
    res.json(await getProduct(scoped, id));
  });

  app.patch('/products/:id', async (req, res) => {
    const { id } = productIdParam.parse(req.params);
    const changes = updateProductBody.parse(req.body);
    res.json(await changeProduct(scoped, id, changes));
  });
}
