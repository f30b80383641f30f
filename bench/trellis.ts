/**
 * Trellis timing: log Z + count + MAP + every cluster marginal on one W jet per N, on 1 and 2
 * threads, with splits visited per second and the O(3^N) operation count (3^N − 1)/2 unordered
 * splits per pass; greedy and beam (width 10) gaps in the same run. With `--baseline FILE` (an
 * sbi_engine.node built from an earlier commit, e.g. main) that addon's trellis is timed on the
 * same jets in the same run, for N ≤ --baseline-max-n (default 16).
 * Usage: npm run bench:trellis [-- --max-n 18] [--baseline /path/to/sbi_engine.node] [--baseline-label 'main at abc1234'] [--repeat 3]
 * Each time is the best of --repeat runs (default 3 up to N = 16, 1 above): the machine is shared; the
 * process's CPU time on one thread is reported beside the wall time as the steadier figure.
 */
import { createRequire } from 'node:module';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';
import { SbiError } from '../src/errors.js';
import { simulateGinkgo, GINKGO_PRESETS } from '../src/trellis/ginkgo.js';
import { beamSearch, energyArgs, greedyClustering, leavesToArray, runTrellis } from '../src/trellis/trellis.js';
import type { TrellisNative } from '../src/trellis/native.js';

const option = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const maxN = Number(option('--max-n') ?? 16);
const baselineFile = option('--baseline');
const baselineMaxN = Number(option('--baseline-max-n') ?? 16);
const repeatOption = option('--repeat');
const baseline = baselineFile ? (createRequire(import.meta.url)(baselineFile) as TrellisNative & { init(o: object): void }) : undefined;
baseline?.init({ SbiError });

const model = GINKGO_PRESETS.w.model;
const [energyName, energyParams] = energyArgs(model);
/** CPU seconds of this process since `start` (on one thread: steadier than wall time on a shared machine). */
const cpuSeconds = (start: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1e6;
};
const best = (repeat: number, f: () => number) => Math.min(...Array.from({ length: repeat }, f));
const rows: Record<string, number | string>[] = [];
for (let n = 8; n <= maxN; n++) {
  const leaves = simulateGinkgo({ n: 1, seed: 1000 + n, minLeaves: n, maxLeaves: n }).jets[0]!.leaves;
  const repeat = repeatOption ? Number(repeatOption) : n <= 16 ? 3 : 1;
  const row: Record<string, number | string> = { n, splits: (3 ** n - 1) / 2 };
  for (const threads of [1, 2]) {
    let visited = 0;
    let cpu = Infinity;
    row[`seconds_${threads}t`] = best(repeat, () => {
      const c0 = process.cpuUsage();
      const r = runTrellis(leaves, model, { marginals: true, threads });
      cpu = Math.min(cpu, cpuSeconds(c0));
      visited = r.splitsEvaluated;
      row.nTrees = r.nTrees;
      row.logZ = r.logZ;
      return r.seconds;
    });
    if (threads === 1) row.cpu_1t = cpu;
    row.splitsVisited = visited;
    if (baseline && n <= baselineMaxN) {
      const x = leavesToArray(leaves);
      let baselineCpu = Infinity;
      row[`baseline_${threads}t`] = best(repeat, () => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = baseline.trellis(x, energyName, energyParams, { marginals: true, threads });
        baselineCpu = Math.min(baselineCpu, cpuSeconds(c0));
        if (Math.abs(r.logZ - (row.logZ as number)) > 1e-9 * (1 + Math.abs(r.logZ)) || r.count !== row.nTrees)
          throw new Error(`baseline disagrees at N = ${n}: log Z ${r.logZ} vs ${row.logZ}`);
        return (performance.now() - t0) / 1000;
      });
      if (threads === 1) row.baseline_cpu_1t = baselineCpu;
    }
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
const fmt = (v: unknown, digits = 3) => (typeof v === 'number' ? v.toFixed(digits) : '–');
const speedup = (r: Record<string, number | string>, t: number) =>
  typeof r[`baseline_${t}t`] === 'number' ? `${((r[`baseline_${t}t`] as number) / (r[`seconds_${t}t`] as number)).toFixed(1)}×` : '–';
writeResults('trellis.json', { machine: machineDescription(), shared: 'machine shared with other jobs', baseline: baselineFile ?? null, rows });
const table = [
  `Machine: ${machineDescription()} (shared with other jobs while measured: wall times are noisy, compare within a row).`,
  'One W jet per N (λ = 1.5, λ_root = 3, t_cut = 16); time (best of 3 up to N = 16, one run above) for log Z + count +',
  'MAP + all cluster marginals. "splits visited": both passes (inside, then the marginal scatter), (3^N − 1)/2 each at most.',
  baselineFile
    ? `Baseline: ${option('--baseline-label') ?? `the addon ${baselineFile}`}, same jets, same run.`
    : 'No baseline addon given (--baseline).',
  '',
  '| N | (3^N−1)/2 | splits visited | 1 thread (s) | 1 thread CPU (s) | 2 threads (s) | splits/s (2 threads) | baseline 1 thread (s) | baseline 1 thread CPU (s) | baseline 2 threads (s) | speed-up 1 / 2 threads (CPU 1 thread) | greedy gap | beam-10 gap |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) =>
    `| ${r.n} | ${(r.splits as number).toExponential(2)} | ${(r.splitsVisited as number).toExponential(2)} | ${fmt(r.seconds_1t)} | ${fmt(r.cpu_1t)} | ${fmt(r.seconds_2t)} | ${((r.splitsVisited as number) / (r.seconds_2t as number)).toExponential(2)} | ${fmt(r.baseline_1t)} | ${fmt(r.baseline_cpu_1t)} | ${fmt(r.baseline_2t)} | ${speedup(r, 1)} / ${speedup(r, 2)} (${typeof r.baseline_cpu_1t === 'number' ? `${((r.baseline_cpu_1t as number) / (r.cpu_1t as number)).toFixed(2)}×` : '–'}) | ${(r.greedyGap as number).toFixed(3)} | ${(r.beamGap as number).toFixed(3)} |`),
  '',
  `Targets on 2 cores: N = 16 ${target(16, 0.25)}; N = 20 ${target(20, 30)}.`,
  'Gaps are E(MAP) − E(baseline) in nats (0: the baseline found the MAP).',
].join('\n');
replaceReadmeBlock('trellis', table);
console.log(table);
