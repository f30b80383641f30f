// C2ST time on sbibm-sized inputs (10 000 vs 10 000 rows, sbibm's classifier and 5 folds): a 10-D
// case with both samples N(0, I), the slow one (hundreds of epochs per fold), and a 2-D case with
// a shift of 0.3 in the first coordinate. Prints accuracy, wall and CPU seconds.
//   npx tsx bench/c2st_speed.ts [threads=2]                       this checkout, one JSON line per case
//   npx tsx bench/c2st_speed.ts [threads=2] --baseline DIR [--reps 2]
//     alternates this checkout with the checkout at DIR (e.g. a `git worktree` of the commit to
//     compare against, built), each run in its own process, `reps` times; prints a table with
//     the median wall and CPU seconds, the ratios baseline / this and both accuracies, and writes
//     bench/results/c2st_speed.json.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { c2st } from '../src/diagnostics/c2st.js';
import { PhiloxStream } from '../src/random/philox.js';
import { benchDir, machineDescription, writeResults } from './common.js';

const threads = Number(process.argv[2]?.startsWith('--') ? 2 : process.argv[2] ?? 2);
const option = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const CASES = [[10, 0], [2, 0.3]] as const;

interface CaseResult { dim: number; shift: number; threads: number; accuracy: number; seconds: number; cpuSeconds: number; loadAverage?: number }

function normals(n: number, dim: number, seed: number, shift = 0): Float64Array {
  const r = new PhiloxStream(seed, 0);
  return Float64Array.from({ length: n * dim }, (_, i) => r.normal() + (i % dim === 0 ? shift : 0));
}

async function measure(): Promise<void> {
  for (const [dim, shift] of CASES) {
    const X = normals(10_000, dim, 1), Y = normals(10_000, dim, 2, shift);
    const t0 = performance.now(), c0 = process.cpuUsage();
    const accuracy = await c2st(X, Y, dim, { seed: 1, threads });
    const cpu = process.cpuUsage(c0);
    const r: CaseResult = {
      dim, shift, threads, accuracy, seconds: +((performance.now() - t0) / 1000).toFixed(1), cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1),
      loadAverage: +os.loadavg()[0]!.toFixed(1), // 1-minute load average at the end of the case (the machine is shared)
    };
    console.log(JSON.stringify(r));
  }
}

/** Runs this script (without --baseline) in checkout `root` and returns its case results. */
function runIn(root: string): CaseResult[] {
  const out = execFileSync('npx', ['tsx', path.join(root, 'bench', 'c2st_speed.ts'), String(threads)], { cwd: root, encoding: 'utf8' });
  return out.trim().split('\n').map((line) => JSON.parse(line) as CaseResult);
}

async function compare(baseline: string, reps: number): Promise<void> {
  const here = path.resolve(benchDir, '..');
  const runs: { baseline: CaseResult[][]; current: CaseResult[][] } = { baseline: [], current: [] };
  const loadAverages = [+os.loadavg()[0]!.toFixed(1)];
  for (let r = 0; r < reps; r++) {
    runs.baseline.push(runIn(baseline));
    runs.current.push(runIn(here));
    loadAverages.push(+os.loadavg()[0]!.toFixed(1));
    console.error(`rep ${r + 1}/${reps} done`);
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[(v.length - 1) >> 1]!;
  const rows = CASES.map(([dim, shift], c) => {
    const b = runs.baseline.map((run) => run[c]!), t = runs.current.map((run) => run[c]!);
    const bs = median(b.map((x) => x.seconds)), ts = median(t.map((x) => x.seconds));
    const bc = median(b.map((x) => x.cpuSeconds)), tc = median(t.map((x) => x.cpuSeconds));
    return {
      dim, shift, threads, baselineSeconds: bs, seconds: ts, ratio: +(bs / ts).toFixed(2),
      baselineCpuSeconds: bc, cpuSeconds: tc, cpuRatio: +(bc / tc).toFixed(2),
      baselineAccuracy: b[0]!.accuracy, accuracy: t[0]!.accuracy,
      baselineRuns: b.map((x) => x.seconds), runs: t.map((x) => x.seconds),
      baselineCpuRuns: b.map((x) => x.cpuSeconds), cpuRuns: t.map((x) => x.cpuSeconds),
    };
  });
  console.log('| case | threads | baseline s (median) | this s (median) | baseline / this | CPU s baseline | CPU s this | baseline / this | accuracy baseline | accuracy this |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.dim}-D, shift ${r.shift} | ${r.threads} | ${r.baselineSeconds} | ${r.seconds} | ${r.ratio}× | ${r.baselineCpuSeconds} | ${r.cpuSeconds} | ${r.cpuRatio}× | ${r.baselineAccuracy} | ${r.accuracy} |`,
    );
  }
  // loadAverages: the 1-minute load average at the start and after each rep (2 cores, shared).
  writeResults('c2st_speed.json', { machine: machineDescription(), date: new Date().toISOString(), baseline, reps, loadAverages, rows });
}

const baseline = option('baseline');
if (baseline) await compare(path.resolve(baseline), Number(option('reps') ?? 2));
else await measure();
