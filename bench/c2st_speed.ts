// C2ST time on sbibm-sized inputs (10 000 vs 10 000 rows, sbibm's classifier and 5 folds): a 10-D
// case with both samples N(0, I), the slow one (hundreds of epochs per fold), and a 2-D case with
// a shift of 0.3 in the first coordinate. Prints accuracy, wall and CPU seconds.
// Run: npx tsx bench/c2st_speed.ts [threads=2]
// Compare builds by running the same command from two checkouts in one session, alternating.
import { c2st } from '../src/diagnostics/c2st.js';
import { PhiloxStream } from '../src/random/philox.js';

const threads = Number(process.argv[2] ?? 2);

function normals(n: number, dim: number, seed: number, shift = 0): Float64Array {
  const r = new PhiloxStream(seed, 0);
  return Float64Array.from({ length: n * dim }, (_, i) => r.normal() + (i % dim === 0 ? shift : 0));
}

for (const [dim, shift] of [[10, 0], [2, 0.3]] as const) {
  const X = normals(10_000, dim, 1), Y = normals(10_000, dim, 2, shift);
  const t0 = performance.now(), c0 = process.cpuUsage();
  const accuracy = await c2st(X, Y, dim, { seed: 1, threads });
  const cpu = process.cpuUsage(c0);
  console.log(JSON.stringify({ dim, shift, threads, accuracy, seconds: +((performance.now() - t0) / 1000).toFixed(1), cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1) }));
}
