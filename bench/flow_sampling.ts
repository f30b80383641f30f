// Sampling time of a conditional flow alone (sbi's default size: 5 layers, MADEs 2 × 50 tanh;
// initial parameters, float32), autoregressive (passes = dim) vs coupling (passes = 2): the
// inverse of each layer takes `passes` network evaluations. Median of 3 runs, interleaved, with
// the ratio measured in the same run.   npx tsx bench/flow_sampling.ts [dim] [samples]
import { MAF, type MAFTransform } from '../src/flows/maf.js';
import { machineDescription } from './common.js';

const dim = Number(process.argv[2] ?? 10);
const n = Number(process.argv[3] ?? 10_000);
const x = new Float32Array(dim).fill(0.3);  // a context as wide as θ, as gaussian_linear's x
const transforms: [string, MAFTransform][] = [['affine (maf)', { kind: 'affine' }], ['rqSpline (nsf)', { kind: 'rqSpline', bins: 10, bound: 3 }]];
const median = (v: number[]) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

console.log(`${n} samples, dim ${dim}; ${machineDescription()}`);
console.log('| transform | autoregressive (s) | coupling (s) | ratio |');
console.log('|---|---:|---:|---:|');
for (const [name, transform] of transforms) {
  const flows = [dim, Math.min(2, dim)].map((passes) => new MAF({ dim, contextDim: dim, passes, transform }, { precision: 'float32', seed: 1 }));
  const times: number[][] = [[], []];
  for (let rep = 0; rep < 3; rep++) {
    flows.forEach((f, i) => {
      const t0 = performance.now();
      f.sample(n, x, { seed: rep });
      times[i]!.push((performance.now() - t0) / 1000);
    });
  }
  const [a, c] = times.map(median) as [number, number];
  console.log(`| ${name} | ${a.toFixed(3)} | ${c.toFixed(3)} | ${(a / c).toFixed(2)}× |`);
}
