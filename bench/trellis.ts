/**
 * Trellis timing: log Z + MAP + marginals (inside and outside passes) on one W jet per N, on 1 and
 * 2 threads, with split evaluations per second and their ratio to the O(3^N) operation count
 * (3^N − 1)/2 unordered splits; greedy and beam (width 10) in the same run as the baselines.
 * Usage: npm run bench:trellis [-- --max-n 16]  (N = 20 takes long on this build: see README)
 */
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';
import { simulateGinkgo, GINKGO_PRESETS } from '../src/trellis/ginkgo.js';
import { beamSearch, greedyClustering, runTrellis } from '../src/trellis/trellis.js';

const arg = process.argv.indexOf('--max-n');
const maxN = arg > 0 ? Number(process.argv[arg + 1]) : 16;
const model = GINKGO_PRESETS.w.model;
const rows: Record<string, number | string>[] = [];
for (let n = 8; n <= maxN; n++) {
  const leaves = simulateGinkgo({ n: 1, seed: 1000 + n, minLeaves: n, maxLeaves: n }).jets[0]!.leaves;
  const row: Record<string, number | string> = { n, splits: (3 ** n - 1) / 2 };
  for (const threads of [1, 2]) {
    const r = runTrellis(leaves, model, { marginals: true, threads });
    row[`seconds_${threads}t`] = r.seconds;
    row[`splitsPerSecond_${threads}t`] = r.splitsEvaluated / r.seconds;
    row.splitsEvaluated = r.splitsEvaluated;
    row.nTrees = r.nTrees;
  }
  let t0 = performance.now();
  const g = greedyClustering(leaves, model);
  row.greedySeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const b = beamSearch(leaves, model, 10);
  row.beamSeconds = (performance.now() - t0) / 1000;
  const exact = runTrellis(leaves, model);
  row.mapLogLH = exact.mapLogLH;
  row.greedyGap = exact.mapLogLH - g.logLH;
  row.beamGap = exact.mapLogLH - b.logLH;
  rows.push(row);
  console.log(JSON.stringify(row));
}
const at = (n: number) => rows.find((r) => r.n === n);
const target = (n: number, limit: number) => {
  const r = at(n);
  return r ? `${(r.seconds_2t as number).toFixed(2)} s (target ${limit} s: ${(r.seconds_2t as number) < limit ? 'met' : 'NOT met'})` : `not measured (target ${limit} s)`;
};
writeResults('trellis.json', { machine: machineDescription(), shared: 'machine shared with other jobs', rows });
const table = [
  `Machine: ${machineDescription()} (shared with other jobs while measured). One W jet per N (λ = 1.5, λ_root = 3, t_cut = 16);`,
  'time for log Z + count + MAP + all cluster marginals; "splits" = (3^N − 1)/2; evaluations count ψ calls actually made',
  '(inside once per allowed split, outside twice; splits with a sub-cluster of no allowed hierarchy are skipped).',
  '',
  '| N | (3^N−1)/2 | ψ evaluations | 1 thread (s) | 2 threads (s) | ψ/s (2 threads) | greedy gap | beam-10 gap |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) =>
    `| ${r.n} | ${(r.splits as number).toExponential(2)} | ${(r.splitsEvaluated as number).toExponential(2)} | ${(r.seconds_1t as number).toFixed(3)} | ${(r.seconds_2t as number).toFixed(3)} | ${(r.splitsPerSecond_2t as number).toExponential(2)} | ${(r.greedyGap as number).toFixed(3)} | ${(r.beamGap as number).toFixed(3)} |`),
  '',
  `Targets on 2 cores: N = 16 ${target(16, 0.25)}; N = 20 ${target(20, 30)}.`,
  'Gaps are E(MAP) − E(baseline) in nats (0: the baseline found the MAP).',
].join('\n');
replaceReadmeBlock('trellis', table);
console.log(table);
