/**
 * What an HTTP request costs the server, by stack: a raw node:http handler, bare Express 5,
 * Express without ETags, and the services' own createHttpApp (request id, pino-http, metrics,
 * JSON body). Each server runs in its own process; 32 keep-alive connections POST a small order
 * body 10,000 times and the server's CPU is read from process.cpuUsage().
 *
 *   npx tsx bench/experiments/micro-http.ts [raw,express,express-noetag,common]
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Agent, request } from 'undici';
import { createHttpApp, createLogger, createMetrics } from '@delivery/common';

type Variant = 'raw' | 'express' | 'express-noetag' | 'common';

function handlerFor(variant: Variant): http.RequestListener {
  const answer = (body: unknown) => ({ ok: true, body });
  if (variant === 'raw')
    return (req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        res.statusCode = 201;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer(JSON.parse(text || '{}'))));
      });
    };
  if (variant === 'express' || variant === 'express-noetag') {
    const app = express();
    if (variant === 'express-noetag') app.set('etag', false);
    app.use(express.json());
    app.post('/x', (req, res) => void res.status(201).json(answer(req.body)));
    return app;
  }
  // Lines are produced and formatted as in the services, then dropped.
  const logger = createLogger({ service: 'micro', destination: { write: () => true } });
  return createHttpApp({
    logger,
    metrics: createMetrics('micro'),
    readiness: {},
    routes: (app) => app.post('/x', (req, res) => void res.status(201).json(answer(req.body))),
  });
}

async function serve(variant: Variant): Promise<void> {
  const server = http.createServer(handlerFor(variant)).listen(0, '127.0.0.1', () => {
    process.send?.((server.address() as AddressInfo).port);
  });
  process.on('message', (m) => {
    if (m === 'cpu') process.send?.(process.cpuUsage());
  });
  process.on('SIGTERM', () => process.exit(0));
}

async function measure(variant: Variant): Promise<string> {
  const child = fork(process.argv[1]!, ['--serve', variant], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(m as number)));
  const agent = new Agent({ connections: 32 });
  const body = JSON.stringify({
    customerId: 1,
    city: 'Colombo',
    items: [{ productId: 101, price: 9.99, quantity: 1 }],
  });
  const post = async (n: number) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (sent++ < n) {
          const res = await request(`http://127.0.0.1:${port}/x`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json' },
            dispatcher: agent,
          });
          await res.body.text();
        }
      }),
    );
  };
  const cpu = () =>
    new Promise<NodeJS.CpuUsage>((resolve) => {
      child.once('message', (m) => resolve(m as NodeJS.CpuUsage));
      child.send('cpu');
    });
  await post(2_000); // warm-up
  const n = 10_000;
  const before = await cpu();
  const started = Date.now();
  await post(n);
  const after = await cpu();
  const seconds = (Date.now() - started) / 1_000;
  child.kill('SIGTERM');
  await agent.close();
  const usedUs = after.user + after.system - before.user - before.system;
  return `${variant}: ${Math.round(n / seconds)} requests/s, server CPU ${Math.round(usedUs / n)} µs per request`;
}

const [flag, arg] = process.argv.slice(2);
if (flag === '--serve') await serve(arg as Variant);
else
  for (const variant of (flag ?? 'raw,express,express-noetag,common').split(',') as Variant[])
    console.log(await measure(variant));
