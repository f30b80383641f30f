/**
 * Throughput of the circle and interval transforms (src/manifold/transforms.ts): elements per
 * second for forward (y and log-det), inverse and backward in double, next to the flow
 * rational-quadratic spline of NSF (src/flows/transforms.ts, same bin count) measured in the
 * same run as the baseline. Prints a table.
 *
 *   npx tsx bench/manifold_transforms.ts [--quick]
 */
import { RQSpline, type FlowTransform } from '../src/flows/transforms.js';
import { CircularRQSpline, IntervalRQSpline, MoebiusMixture, NCPMixture } from '../src/manifold/transforms.js';
import { machineDescription } from './common.js';
import { Rng } from '../test/oracles/rng.js';

const quick = process.argv.includes('--quick');
const N = quick ? 20_000 : 200_000;
const K = 8;

function best(fn: () => void, repeats = 5): number {
  let t = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

const rng = new Rng(1);
const rows: [string, FlowTransform, number, number][] = [
  [`flows.RQSpline K=${K} (baseline)`, new RQSpline(1, { bins: K }), -3, 6],
  [`CircularRQSpline K=${K}`, new CircularRQSpline(1, { bins: K }), 0, 2 * Math.PI],
  [`IntervalRQSpline K=${K}`, new IntervalRQSpline(1, { bins: K }), -1, 2],
  ['MoebiusMixture K=1', new MoebiusMixture(1, { components: 1 }), 0, 2 * Math.PI],
  ['MoebiusMixture K=4', new MoebiusMixture(1, { components: 4 }), 0, 2 * Math.PI],
  ['NCPMixture K=4', new NCPMixture(1, { components: 4 }), 0, 2 * Math.PI],
];

console.log(`${machineDescription()}; ${N} elements, double, best of 5`);
console.log('| transform | forward Melem/s | inverse Melem/s | backward Melem/s | forward / baseline |');
console.log('|---|---:|---:|---:|---:|');
let baseline = 0;
for (const [name, t, lo, span] of rows) {
  const x = Float64Array.from({ length: N }, () => lo + span * rng.uniform());
  const params = Float64Array.from({ length: N * t.paramsPerRow }, () => rng.uniform() * 2 - 1);
  const { y } = t.callAndLadj(x, params);
  const ones = new Float64Array(N).fill(1);
  const fwd = N / best(() => t.callAndLadj(x, params)) / 1e6;
  const inv = N / best(() => t.inverseAndLadj(y, params)) / 1e6;
  const bwd = N / best(() => t.backward(x, params, ones, ones)) / 1e6;
  if (baseline === 0) baseline = fwd;
  console.log(`| ${name} | ${fwd.toFixed(1)} | ${inv.toFixed(1)} | ${bwd.toFixed(1)} | ${(fwd / baseline).toFixed(2)} |`);
}
