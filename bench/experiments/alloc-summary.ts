/**
 * Summarizes an allocation profile written by alloc-sampling.mjs: bytes allocated by library
 * (each sample charged to the nearest package or service file on its stack) and by function.
 *   npx tsx bench/experiments/alloc-summary.ts .run/alloc-<pid>.json [--top 15]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string' } },
});
const top = Number(values.top ?? 15);
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as { head: SamplingNode };

function area(url: string): string | undefined {
  if (!url || url.startsWith('node:')) return undefined;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const [scope, name] = url.slice(nm + 'node_modules/'.length).split('/');
    return scope!.startsWith('@') ? `${scope}/${name}` : scope;
  }
  return /\/((?:common|order-service|inventory-service|dispatcher-service)\/src\/.*)$/.exec(url)?.[1] ?? url;
}

const byLibrary = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

function walk(node: SamplingNode, nearest: string): void {
  const here = area(node.callFrame.url) ?? nearest;
  if (node.selfSize > 0) {
    total += node.selfSize;
    add(byLibrary, here, node.selfSize);
    const { functionName, lineNumber } = node.callFrame;
    add(byFunction, `${functionName || '(anonymous)'} ${here}:${lineNumber}`, node.selfSize);
  }
  for (const child of node.children) walk(child, here);
}
walk(profile.head, '(native)');

const show = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, v]) => console.log(`${((v / total) * 100).toFixed(1).padStart(6)} %  ${k}`));
console.log(`sampled ${(total / 1e6).toFixed(0)} MB allocated\n\nby library:`);
show(byLibrary);
console.log('\nby function:');
show(byFunction);
